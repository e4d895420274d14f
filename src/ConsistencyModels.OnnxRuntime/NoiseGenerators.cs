// The official sampling script's noise sources over TorchCpuGenerator — port of cm/random_util.py (as Sampling/SampleGenerators.cs).
namespace ConsistencyModels.OnnxRuntime;

/// <summary>Which noise source, as <c>--generator</c> of image_sample.py (metadata <c>default_generator</c>).</summary>
public enum NoiseKind
{
    /// <summary>One seeded stream drawing all [num_samples, ...] values; a batch keeps its rows (batch-size independent).</summary>
    Determ,
    /// <summary>One stream per sample, seeded i + num_samples·seed.</summary>
    DetermIndiv,
    /// <summary>One seeded stream drawing batch-shaped tensors.</summary>
    Dummy,
}

/// <summary>Noise for sampling, drawn as the libtorch path draws it on the CPU (same seed, same numbers).</summary>
public sealed class NoiseGenerator
{
    private readonly NoiseKind _kind;
    private readonly int _numSamples;
    private readonly ulong _seed;
    private readonly TorchCpuGenerator[] _streams;
    private int _doneSamples;

    public NoiseGenerator(NoiseKind kind, int numSamples, long seed)
    {
        if (numSamples < 1) throw new ArgumentOutOfRangeException(nameof(numSamples), "num_samples must be positive");
        (_kind, _numSamples, _seed) = (kind, numSamples, unchecked((ulong)seed));
        _streams = kind == NoiseKind.DetermIndiv
            ? [.. Enumerable.Range(0, numSamples).Select(i => new TorchCpuGenerator(unchecked((ulong)(i + (long)numSamples * seed))))]
            : [new TorchCpuGenerator(_seed)];
    }

    /// <summary>Parses the metadata / CLI name: determ, determ-indiv, dummy.</summary>
    public static NoiseKind ParseKind(string name) => name.Trim().ToLowerInvariant() switch
    {
        "determ" => NoiseKind.Determ,
        "determ-indiv" or "determ_indiv" => NoiseKind.DetermIndiv,
        "dummy" => NoiseKind.Dummy,
        _ => throw new ArgumentException($"unknown generator '{name}' (determ, determ-indiv or dummy)"),
    };

    /// <summary><c>randn(batch, ...)</c> with <paramref name="perSample"/> values per sample, row-major.</summary>
    public float[] Randn(int batch, int perSample)
    {
        switch (_kind)
        {
            case NoiseKind.Determ:
            {
                var all = _streams[0].Randn(_numSamples * perSample);
                var result = new float[batch * perSample];
                for (int i = 0; i < batch; i++)
                    Array.Copy(all, Row(i) * perSample, result, i * perSample, perSample);
                return result;
            }
            case NoiseKind.DetermIndiv:
            {
                var result = new float[batch * perSample];
                for (int i = 0; i < batch; i++) _streams[Row(i)].Randn(result.AsSpan(i * perSample, perSample));
                return result;
            }
            default:
                return _streams[0].Randn(batch * perSample);
        }
    }

    /// <summary><c>randint(low, high, (batch,))</c>.</summary>
    public long[] Randint(long low, long high, int batch) => _kind switch
    {
        NoiseKind.Determ => _streams[0].Randint(low, high, _numSamples) is var all ? [.. Enumerable.Range(0, batch).Select(i => all[Row(i)])] : [],
        NoiseKind.DetermIndiv => [.. Enumerable.Range(0, batch).Select(i => _streams[Row(i)].Randint(low, high, 1)[0])],
        _ => _streams[0].Randint(low, high, batch),
    };

    /// <summary>Moves to the batch starting at sample <paramref name="doneSamples"/>; Determ restarts its stream, as upstream.</summary>
    public void SetDoneSamples(int doneSamples)
    {
        _doneSamples = doneSamples;
        if (_kind == NoiseKind.Determ) _streams[0].ManualSeed(_seed);
    }

    private int Row(int i) => Math.Clamp(_doneSamples + i, 0, _numSamples - 1);
}
