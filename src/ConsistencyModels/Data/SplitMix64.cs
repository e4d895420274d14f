// SplitMix64 PRNG (Steele, Lea & Flood 2014) — a fixed, version-independent stream for data order and flips.
namespace ConsistencyModels.Data;

internal struct SplitMix64(ulong state)
{
    /// <summary>The Weyl-sequence increment: 2^64 divided by the golden ratio, made odd.</summary>
    public const ulong Golden = 0x9E3779B97F4A7C15UL;
    ulong _state = state;

    public ulong Next() => Mix(_state += Golden);

    /// <summary>Uniform in [0, bound), unbiased (Lemire's multiply-shift with rejection on the top 32 bits).</summary>
    public int NextBelow(int bound)
    {
        if (bound <= 0) throw new ArgumentOutOfRangeException(nameof(bound), bound, "The bound must be positive.");
        var m = (Next() >> 32) * (ulong)bound;
        if ((uint)m < (uint)bound)
        {
            var threshold = (uint)-bound % (uint)bound;
            while ((uint)m < threshold)
                m = (Next() >> 32) * (ulong)bound;
        }
        return (int)(m >> 32);
    }

    /// <summary>The SplitMix64 output function: a bijective 64-bit mixer.</summary>
    public static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>A generator for the sub-stream (seed, stream, index); distinct triples give unrelated streams.</summary>
    public static SplitMix64 For(long seed, ulong stream, long index)
        => new(Mix(Mix(Mix(unchecked((ulong)seed) + Golden) ^ stream) ^ unchecked((ulong)index)));
}
