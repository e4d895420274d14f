// libtorch's CPU generator in managed code: at::mt19937 and the CPU kernels of randn / randint
// (aten/src/ATen/core/MT19937RNGEngine.h, DistributionsHelper.h, native/cpu/DistributionTemplates.h: normal_fill).
namespace ConsistencyModels.OnnxRuntime;

/// <summary>
/// Draws the same numbers as <c>torch.Generator().manual_seed(seed)</c> on the CPU, call for call: <see cref="Randn(Span{float})"/>
///  is <c>torch.randn(n, generator=g)</c> (float32), <see cref="Randint"/> is <c>torch.randint(low, high, n, generator=g)</c>.
/// Tensors of 16 or more values take libtorch's Box-Muller over blocks of 16 uniforms (normal_fill), smaller ones the
/// per-value double-precision path with its cached second sample, as libtorch does.
/// </summary>
public sealed class TorchCpuGenerator
{
    private const int N = 624, M = 397;
    private readonly uint[] _state = new uint[N];
    private int _left;
    private uint _next;
    private double? _nextDoubleNormal;

    public TorchCpuGenerator(ulong seed) => ManualSeed(seed);

    /// <summary>Restarts the stream (<c>manual_seed</c>): libtorch seeds its mt19937 with the low 32 bits.</summary>
    public void ManualSeed(ulong seed)
    {
        _state[0] = (uint)(seed & 0xffffffff);
        for (int j = 1; j < N; j++)
            _state[j] = 1812433253u * (_state[j - 1] ^ (_state[j - 1] >> 30)) + (uint)j;
        _left = 1;
        _next = 0;
        _nextDoubleNormal = null;
    }

    /// <summary>One 32-bit output of mt19937 (<c>random()</c>).</summary>
    public uint NextUInt32()
    {
        if (--_left <= 0) NextState();
        uint y = _state[_next++];
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c5680;
        y ^= (y << 15) & 0xefc60000;
        y ^= y >> 18;
        return y;
    }

    /// <summary><c>random64()</c>: two outputs, the first as the high half.</summary>
    public ulong NextUInt64()
    {
        ulong hi = NextUInt32(), lo = NextUInt32();
        return (hi << 32) | lo;
    }

    /// <summary>Fills <paramref name="data"/> as <c>torch.randn(data.Length, generator=g)</c> (float32, mean 0, std 1).</summary>
    public void Randn(Span<float> data)
    {
        int size = data.Length;
        if (size < 16)
        {
            for (int i = 0; i < size; i++) data[i] = (float)NormalDouble();
            return;
        }
        for (int i = 0; i < size; i++) data[i] = UniformFloat();
        for (int i = 0; i < size - 15; i += 16) NormalFill16(data.Slice(i, 16));
        if (size % 16 != 0)
        {
            // libtorch recomputes the last 16 values from fresh uniforms.
            var tail = data[^16..];
            for (int i = 0; i < 16; i++) tail[i] = UniformFloat();
            NormalFill16(tail);
        }
    }

    /// <summary>A new array of <paramref name="count"/> standard normal float32 values (see <see cref="Randn(Span{float})"/>).</summary>
    public float[] Randn(int count)
    {
        var a = new float[count];
        Randn(a);
        return a;
    }

    /// <summary><c>torch.randint(low, high, (count,), generator=g)</c> as int64.</summary>
    public long[] Randint(long low, long high, int count)
    {
        if (high <= low) throw new ArgumentException($"randint needs low < high (got {low}, {high})");
        ulong range = (ulong)(high - low);
        var a = new long[count];
        for (int i = 0; i < count; i++)
            a[i] = (long)((range >= 1UL << 32 ? NextUInt64() : NextUInt32()) % range) + low;
        return a;
    }

    // uniform_real_distribution<float>(0, 1): 24 random bits.
    private float UniformFloat() => (NextUInt32() & ((1u << 24) - 1)) * (1.0f / (1 << 24));

    // uniform_real_distribution<double>(0, 1): 53 random bits of random64().
    private double UniformDouble() => (NextUInt64() & ((1UL << 53) - 1)) * (1.0 / (1UL << 53));

    // at::normal_distribution<double>: Box-Muller, the sine half cached in the generator for the next call.
    private double NormalDouble()
    {
        if (_nextDoubleNormal is double cached) { _nextDoubleNormal = null; return cached; }
        double u1 = UniformDouble(), u2 = UniformDouble();
        // libtorch: log1p(-u2). 1 - u2 is exact for a 53-bit u2, so log gives the same real number's logarithm
        // (within an ulp of log1p's rounding; this path serves only tensors of fewer than 16 values).
        double r = Math.Sqrt(-2.0 * Math.Log(1.0 - u2));
        double theta = 2.0 * Math.PI * u1;
        _nextDoubleNormal = r * Math.Sin(theta);
        return r * Math.Cos(theta);
    }

    // normal_fill_16_AVX2 (the kernel x86-64 libtorch builds run): float32 Box-Muller on 8 pairs (u1 = 1 - data[j],
    // u2 = data[j + 8]) with avx_mathfun's log and sincos, theta = (float)2π · u2.
    private static void NormalFill16(Span<float> data)
    {
        const float TwoPi = (float)(2.0f * Math.PI);
        for (int j = 0; j < 8; j++)
        {
            float u1 = 1 - data[j];
            float u2 = data[j + 8];
            float radius = MathF.Sqrt(-2f * AvxMathFun.Log(u1));
            var (sin, cos) = AvxMathFun.SinCos(TwoPi * u2);
            data[j] = radius * cos;
            data[j + 8] = radius * sin;
        }
    }

    private void NextState()
    {
        const uint MatrixA = 0x9908b0df, Upper = 0x80000000, Lower = 0x7fffffff;
        _left = N;
        _next = 0;
        for (int k = 0; k < N; k++)
        {
            uint y = (_state[k] & Upper) | (_state[(k + 1) % N] & Lower);
            _state[k] = _state[(k + M) % N] ^ (y >> 1) ^ ((y & 1) != 0 ? MatrixA : 0);
        }
    }
}
