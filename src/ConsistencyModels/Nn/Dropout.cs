// Dropout (upstream's out_layers[2], torch.nn.Dropout) whose CPU masks come from a counter-based hash: libtorch's CPU
// bernoulli_ is a serial per-element loop, a quarter to a half of an fmnist32 training forward (docs/training.md, "Speed").
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using TorchSharp;
using static TorchSharp.torch;

namespace ConsistencyModels.Nn;

/// <summary>
/// Zeroes each element with probability <see cref="P"/> in training mode and scales the rest by 1/(1 − p), as
/// torch.nn.Dropout (output = input · noise, noise = bernoulli(1 − p) / (1 − p) in the input's dtype). On the CPU, with
/// <see cref="KernelOptions.HashedCpuDropout"/>, the mask is SplitMix64 of (a seed drawn from torch's global generator,
/// the element's index), filled in parallel: the same distribution, other masks than libtorch's, and still a function
/// of the generator's state, so <c>manual_seed</c> and get/set_rng_state replay it (the CD/CT/ECT losses evaluate two
/// networks with the same masks that way). Elsewhere, and for non-contiguous inputs, it is libtorch's dropout.
/// </summary>
public sealed class Dropout : nn.Module<Tensor, Tensor>
{
    private const int Chunk = 1 << 16;

    /// <summary>The probability of zeroing an element.</summary>
    public double P { get; }

    /// <summary>The kernel choices of the owning network (<see cref="KernelOptions.HashedCpuDropout"/>).</summary>
    public KernelOptions Kernels { get; }

    public Dropout(double p, KernelOptions? kernels = null) : base(nameof(Dropout))
    {
        if (!(p >= 0 && p < 1)) throw new ArgumentOutOfRangeException(nameof(p), p, "The dropout probability must be in [0, 1).");
        P = p;
        Kernels = kernels ?? KernelOptions.Default;
    }

    public override Tensor forward(Tensor x)
    {
        // As libtorch: no mask and no draw from the generator where nothing is dropped.
        if (!training || P == 0 || x.numel() == 0) return x.alias();
        if (!Kernels.HashedCpuDropout || x.device_type != DeviceType.CPU || !x.is_contiguous() ||
            x.dtype is not (ScalarType.Float32 or ScalarType.BFloat16 or ScalarType.Float16))
            return nn.functional.dropout(x, P, training: true);
        using var scope = NewDisposeScope();
        long seed = randint(long.MaxValue, [1], dtype: ScalarType.Int64).item<long>();
        var noise = Noise(x.shape, x.dtype, P, seed);
        return x.mul(noise).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The noise tensor of one call: 1/(1 − p) (rounded to <paramref name="dtype"/>) where SplitMix64(seed, i / 2)'s low
    /// (even i) or high (odd i) 32 bits are at least p·2^32, else 0.
    /// </summary>
    public static unsafe Tensor Noise(long[] shape, ScalarType dtype, double p, long seed)
    {
        var noise = empty(shape, dtype: dtype);
        long n = noise.numel();
        uint threshold = (uint)Math.Min(Math.Round(p * 4294967296.0), uint.MaxValue);
        float keep = 1f / (float)(1 - p);                                   // libtorch: noise.div_(1 - p) in the tensor's dtype
        ushort keepBits = dtype switch
        {
            ScalarType.BFloat16 => Bf16Bits(keep),
            ScalarType.Float16 => BitConverter.HalfToUInt16Bits((Half)keep),
            _ => 0,
        };
        ulong key = Mix(unchecked((ulong)seed) + Golden);
        fixed (byte* data = noise.bytes)
        {
            var address = (nint)data;
            long chunks = (n + Chunk - 1) / Chunk;
            var parallel = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, get_num_threads()) };
            Parallel.For(0L, chunks, parallel, c =>
            {
                long start = c * Chunk, end = Math.Min(n, start + Chunk);
                if (dtype == ScalarType.Float32) Fill((float*)address, start, end, key, threshold, keep);
                else Fill((ushort*)address, start, end, key, threshold, keepBits);
            });
        }
        return noise;
    }

    // Chunks start at even indices, so each hash serves the pair (2j, 2j + 1). Where 512-bit vectors are accelerated,
    // eight hashes at a time: the same arithmetic per 64-bit lane, and a hash's low and high 32-bit halves are, read as
    // uint lanes, already the even and odd elements in order (little-endian), so the masks are the scalar loop's.
    private static unsafe void Fill(float* data, long start, long end, ulong key, uint threshold, float keep)
    {
        long i = start;
        if (Vector512.IsHardwareAccelerated)
        {
            var keepBits = Vector512.Create(BitConverter.SingleToUInt32Bits(keep));
            for (; i + 16 <= end; i += 16)
                (KeptLanes(key, i >> 1, threshold) & keepBits).Store((uint*)(data + i));
        }
        FillScalar(data, i, end, key, threshold, keep);
    }

    private static unsafe void Fill(ushort* data, long start, long end, ulong key, uint threshold, ushort keep)
    {
        long i = start;
        if (Vector512.IsHardwareAccelerated)
        {
            var keepBits = Vector512.Create(keep);
            for (; i + 32 <= end; i += 32)
                (Vector512.Narrow(KeptLanes(key, i >> 1, threshold), KeptLanes(key, (i >> 1) + 8, threshold)) & keepBits).Store(data + i);
        }
        FillScalar(data, i, end, key, threshold, keep);
    }

    /// <summary>All-ones uint lanes where elements 2j .. 2j + 15 are kept (hashes j .. j + 7), else zero.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<uint> KeptLanes(ulong key, long j, uint threshold)
    {
        var index = Vector512.Create(unchecked((ulong)j)) + Vector512.Create(0UL, 1, 2, 3, 4, 5, 6, 7);
        var h = Mix(Vector512.Create(key) + index * Vector512.Create(Golden));
        return Vector512.GreaterThanOrEqual(h.AsUInt32(), Vector512.Create(threshold));
    }

    private static unsafe void FillScalar<T>(T* data, long start, long end, ulong key, uint threshold, T keep) where T : unmanaged
    {
        for (long i = start; i < end; i += 2)
        {
            ulong h = Mix(key + unchecked((ulong)(i >> 1) * Golden));
            data[i] = (uint)h >= threshold ? keep : default;
            if (i + 1 < end) data[i + 1] = (uint)(h >> 32) >= threshold ? keep : default;
        }
    }

    private const ulong Golden = 0x9E3779B97F4A7C15UL;

    /// <summary>SplitMix64's output function, a bijective 64-bit mixer (as Data.SplitMix64; Nn sits below Data).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * MixFirst;
        z = (z ^ (z >> 27)) * MixSecond;
        return z ^ (z >> 31);
    }

    /// <summary><see cref="Mix(ulong)"/> on eight lanes at once.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<ulong> Mix(Vector512<ulong> z)
    {
        z = (z ^ Vector512.ShiftRightLogical(z, 30)) * Vector512.Create(MixFirst);
        z = (z ^ Vector512.ShiftRightLogical(z, 27)) * Vector512.Create(MixSecond);
        return z ^ Vector512.ShiftRightLogical(z, 31);
    }

    private const ulong MixFirst = 0xBF58476D1CE4E5B9UL, MixSecond = 0x94D049BB133111EBUL;

    /// <summary>bfloat16 bits of <paramref name="value"/>, rounded to nearest even (as libtorch's float → bf16).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ushort Bf16Bits(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        return (ushort)((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
    }
}
