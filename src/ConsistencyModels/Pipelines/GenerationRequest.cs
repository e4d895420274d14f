// What to generate: sample count, batching, seed, noise source, labels and sampler (image_sample.py's flags as data).
using ConsistencyModels.Sampling;

namespace ConsistencyModels.Pipelines;

public sealed record GenerationRequest
{
    public int NumSamples { get; init; } = 16;
    public int BatchSize { get; init; } = 16;
    public long Seed { get; init; } = 42;
    public GeneratorKind Generator { get; init; } = GeneratorKind.Determ;
    public SamplingOptions Sampling { get; init; } = new();
    /// <summary>Explicit labels (cycled when fewer than NumSamples); null draws them from a generator seeded with <see cref="Seed"/>.</summary>
    public IReadOnlyList<int>? ClassLabels { get; init; }
    /// <summary>
    /// Move the generator's sample offset to the first sample of each batch (set_done_samples), so images do not depend
    /// on the batch size. false reproduces the official image_sample.py, whose later batches do depend on it.
    /// </summary>
    public bool AdvanceGeneratorPerBatch { get; init; } = true;

    public GenerationRequest Validate()
    {
        if (NumSamples < 1) throw new ArgumentException($"num_samples must be >= 1 (got {NumSamples})");
        if (BatchSize < 1) throw new ArgumentException($"batch_size must be >= 1 (got {BatchSize})");
        if (ClassLabels is { Count: 0 }) throw new ArgumentException("class labels list is empty");
        return this;
    }
}

/// <summary>Generated images as uint8 NHWC (the official npz layout) and their labels (null for unconditional models).</summary>
public sealed record GenerationResult(byte[] Images, int Count, int Height, int Width, int Channels, long[]? Labels);

/// <summary>Progress: batch b of B, network evaluation e of E within the batch.</summary>
public sealed record GenerationProgress(int Batch, int Batches, int SamplesDone, int NumSamples, int Evaluation, int EvaluationsPerBatch);
