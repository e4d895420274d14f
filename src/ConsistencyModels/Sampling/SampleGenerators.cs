// Random-number sources of the official sampling script — port of cm/random_util.py (reference §5.5).
using static TorchSharp.torch;

namespace ConsistencyModels.Sampling;

/// <summary>Which noise source, as <c>--generator</c> of image_sample.py.</summary>
public enum GeneratorKind
{
    /// <summary>One seeded stream; draws the full [num_samples, ...] tensor and keeps this batch's rows (independent of batch size).</summary>
    Determ,
    /// <summary>One stream per sample, seeded i + num_samples·seed (independent of batch size and of other samples).</summary>
    DetermIndiv,
    /// <summary>One seeded stream drawing batch-shaped tensors (upstream: the unseeded global RNG).</summary>
    Dummy,
}

/// <summary>
/// Draws noise in the same order and shapes as the official generators. Determ and DetermIndiv draw on libtorch CPU
/// generators and move the numbers to the requested device, so CPU and CUDA runs see the same numbers; Dummy draws on
/// the device itself (see <see cref="DummyGenerator"/>).
/// </summary>
public interface ISampleGenerator : IDisposable
{
    /// <summary>Releases the native generators (none by default).</summary>
    void IDisposable.Dispose() { }

    Tensor Randn(long[] shape, Device? device = null);
    Tensor RandnLike(Tensor like) => Randn(like.shape, like.device);
    Tensor Randint(long low, long high, long[] shape, Device? device = null);
    /// <summary>Moves the sample offset to <paramref name="doneSamples"/> (upstream set_done_samples).</summary>
    void SetDoneSamples(int doneSamples);
}

public static class SampleGenerators
{
    public static ISampleGenerator Create(GeneratorKind kind, int numSamples, long seed, int rank = 0, int worldSize = 1) => kind switch
    {
        GeneratorKind.Determ => new DeterministicGenerator(numSamples, seed, rank, worldSize),
        GeneratorKind.DetermIndiv => new DeterministicIndividualGenerator(numSamples, seed, rank, worldSize),
        GeneratorKind.Dummy => new DummyGenerator(seed),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>Indices of this rank's rows: arange(done + rank, done + ws·bs, ws) clamped to num_samples − 1.</summary>
    internal static long[] RowIndices(int doneSamples, int rank, int worldSize, long batch, int numSamples)
    {
        var idx = new long[batch];
        for (long i = 0; i < batch; i++)
            idx[i] = Math.Clamp(doneSamples + rank + i * worldSize, 0, numSamples - 1);
        return idx;
    }

    internal static Tensor OnDevice(Tensor t, Device? device)
    {
        if (device is null || device.type == TorchSharp.DeviceType.CPU) return t;
        using (t) return t.to(device);
    }
}

/// <summary>
/// cm/random_util.py::DummyGenerator (the global RNG of the sampling device), but seeded so a run can be repeated.
/// On the CPU: a private generator seeded with <c>seed</c>. On CUDA it draws on the device itself, as upstream: from
/// the device's default generator, seeded with <c>seed</c> when this generator first draws there (TorchSharp 0.107
/// creates only CPU generators). A seed repeats on the same device type; CPU and CUDA draw different numbers (use
/// Determ/DetermIndiv for that). The CUDA generator is process-wide: two Dummy generators drawing on CUDA at the same
/// time share (and reseed) one stream.
/// </summary>
public sealed class DummyGenerator(long seed) : ISampleGenerator
{
    private readonly Generator _cpu = new(unchecked((ulong)seed));
    private bool _cudaSeeded;

    private bool OnCuda(Device? device)
    {
        if (device is null || device.type != TorchSharp.DeviceType.CUDA) return false;
        if (!_cudaSeeded) { cuda.manual_seed_all(seed); _cudaSeeded = true; }   // every GPU: cuda:N draws from its own
        return true;
    }

    public Tensor Randn(long[] shape, Device? device = null) => OnCuda(device)
        ? randn(shape, dtype: ScalarType.Float32, device: device)
        : SampleGenerators.OnDevice(randn(shape, dtype: ScalarType.Float32, generator: _cpu), device);

    public Tensor Randint(long low, long high, long[] shape, Device? device = null) => OnCuda(device)
        ? randint(low, high, shape, dtype: ScalarType.Int64, device: device)
        : SampleGenerators.OnDevice(randint(low, high, shape, dtype: ScalarType.Int64, generator: _cpu), device);

    public void SetDoneSamples(int doneSamples) { }

    public void Dispose() => _cpu.Dispose();
}

/// <summary>cm/random_util.py::DeterministicGenerator: full-size draws from one stream, rows selected per rank.</summary>
public sealed class DeterministicGenerator : ISampleGenerator, IDisposable
{
    private readonly int _numSamples, _rank, _worldSize;
    private readonly long _seed;
    private readonly Generator _rng;
    private int _doneSamples;

    public DeterministicGenerator(int numSamples, long seed, int rank = 0, int worldSize = 1)
    {
        if (numSamples < 1) throw new ArgumentOutOfRangeException(nameof(numSamples), "num_samples must be positive");
        (_numSamples, _seed, _rank, _worldSize) = (numSamples, seed, rank, worldSize);
        _rng = new Generator(unchecked((ulong)seed));
    }

    public Tensor Randn(long[] shape, Device? device = null)
    {
        long[] global = [_numSamples, .. shape[1..]];
        using var all = randn(global, dtype: ScalarType.Float32, generator: _rng);
        using var idx = tensor(SampleGenerators.RowIndices(_doneSamples, _rank, _worldSize, shape[0], _numSamples));
        return SampleGenerators.OnDevice(all.index_select(0, idx), device);
    }

    public Tensor Randint(long low, long high, long[] shape, Device? device = null)
    {
        long[] global = [_numSamples, .. shape[1..]];
        using var all = randint(low, high, global, dtype: ScalarType.Int64, generator: _rng);
        using var idx = tensor(SampleGenerators.RowIndices(_doneSamples, _rank, _worldSize, shape[0], _numSamples));
        return SampleGenerators.OnDevice(all.index_select(0, idx), device);
    }

    /// <summary>Upstream resets the stream to the seed here: every batch re-draws the same full tensors.</summary>
    public void SetDoneSamples(int doneSamples)
    {
        _doneSamples = doneSamples;
        _rng.manual_seed(_seed);
    }

    public void Dispose() => _rng.Dispose();
}

/// <summary>cm/random_util.py::DeterministicIndividualGenerator: one stream per sample, each drawing [1, ...].</summary>
public sealed class DeterministicIndividualGenerator : ISampleGenerator, IDisposable
{
    private readonly int _numSamples, _rank, _worldSize;
    private readonly Generator[] _rngs;
    private int _doneSamples;

    public DeterministicIndividualGenerator(int numSamples, long seed, int rank = 0, int worldSize = 1)
    {
        if (numSamples < 1) throw new ArgumentOutOfRangeException(nameof(numSamples), "num_samples must be positive");
        (_numSamples, _rank, _worldSize) = (numSamples, rank, worldSize);
        _rngs = new Generator[numSamples];
        for (int i = 0; i < numSamples; i++)
            _rngs[i] = new Generator(unchecked((ulong)(i + (long)numSamples * seed)));
    }

    public Tensor Randn(long[] shape, Device? device = null)
    {
        using var scope = NewDisposeScope();
        long[] one = [1, .. shape[1..]];
        var parts = SampleGenerators.RowIndices(_doneSamples, _rank, _worldSize, shape[0], _numSamples)
            .Select(i => randn(one, dtype: ScalarType.Float32, generator: _rngs[i])).ToArray();
        return SampleGenerators.OnDevice(cat(parts, 0), device).MoveToOuterDisposeScope();
    }

    public Tensor Randint(long low, long high, long[] shape, Device? device = null)
    {
        using var scope = NewDisposeScope();
        long[] one = [1, .. shape[1..]];
        var parts = SampleGenerators.RowIndices(_doneSamples, _rank, _worldSize, shape[0], _numSamples)
            .Select(i => randint(low, high, one, dtype: ScalarType.Int64, generator: _rngs[i])).ToArray();
        return SampleGenerators.OnDevice(cat(parts, 0), device).MoveToOuterDisposeScope();
    }

    public void SetDoneSamples(int doneSamples) => _doneSamples = doneSamples;

    public void Dispose() { foreach (var g in _rngs) g.Dispose(); }
}
