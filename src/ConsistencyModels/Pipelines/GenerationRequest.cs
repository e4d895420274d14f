// What to generate: sample count, batching, seed, noise source, labels and sampler (image_sample.py's flags as data).
using ConsistencyModels.IO.Images;
using ConsistencyModels.Nn;
using ConsistencyModels.Sampling;

namespace ConsistencyModels.Pipelines;

public sealed record GenerationRequest
{
    public int NumSamples { get; init; } = 16;
    public int BatchSize { get; init; } = 16;
    public long Seed { get; init; } = 42;
    public GeneratorKind Generator { get; init; } = GeneratorKind.Determ;
    public SamplingOptions Sampling { get; init; } = new();
    /// <summary>Explicit labels: one for all samples or one per sample; null draws them from a generator seeded with <see cref="Seed"/>.</summary>
    public IReadOnlyList<int>? ClassLabels { get; init; }
    /// <summary>
    /// Move the generator's sample offset to the first sample of each batch (set_done_samples), so images do not depend
    /// on the batch size. false reproduces the official image_sample.py, whose later batches do depend on it.
    /// </summary>
    public bool AdvanceGeneratorPerBatch { get; init; } = true;

    /// <summary>
    /// Generate only samples [FirstSample, EndSample) of this <see cref="NumSamples"/>-sample run (a shard). The images
    /// equal those of the whole run, because determ/determ-indiv noise and the labels are indexed by sample.
    /// </summary>
    public int FirstSample { get; init; }
    /// <summary>End (exclusive) of the range to generate; null means <see cref="NumSamples"/>.</summary>
    public int? EndSample { get; init; }
    public int ResolvedEndSample => EndSample ?? NumSamples;

    /// <summary>Largest full-size noise draw the determ generator may make (4 GB).</summary>
    public const double MaxDetermDrawBytes = 4e9;

    /// <summary>Checks counts, labels against the model's classes and the sampler options; throws naming the problem.</summary>
    public GenerationRequest Validate(ModelConfig model)
    {
        if (NumSamples < 1) throw new ArgumentException($"`NumSamples` must be >= 1 (got {NumSamples})");
        if (BatchSize < 1) throw new ArgumentException($"`BatchSize` must be >= 1 (got {BatchSize})");
        if (FirstSample < 0 || ResolvedEndSample > NumSamples || FirstSample >= ResolvedEndSample)
            throw new ArgumentException($"samples [{FirstSample}, {ResolvedEndSample}) are not a non-empty range inside [0, {NumSamples})");
        if ((FirstSample > 0 || ResolvedEndSample < NumSamples) && (!AdvanceGeneratorPerBatch || Generator == GeneratorKind.Dummy))
            throw new ArgumentException("a sample range (shard) needs per-sample noise: the determ or determ-indiv generator, advanced per batch " +
                                        "(dummy noise and the official batch noise depend on every batch before)");
        if (ClassLabels is { } labels)
        {
            if (model.ResolvedNumClasses is not int numClasses)
                throw new ArgumentException("this model is unconditional (class_cond=false): class labels cannot be used");
            if (labels.Count == 0) throw new ArgumentException("the class label list is empty");
            if (labels.Count != 1 && labels.Count != NumSamples)
                throw new ArgumentException($"give one class label or one per sample: {labels.Count} labels for {NumSamples} samples");
            foreach (var l in labels)
                if (l < 0 || l >= numClasses) throw new ArgumentException($"class label {l} is outside [0, {numClasses - 1}]");
        }
        Sampling.Validate(model.SigmaMin, model.SigmaMax, model.Rho);
        // determ draws a full [num_samples, C, H, W] float32 tensor per noise draw (as upstream) and keeps this batch's rows.
        double drawBytes = (double)NumSamples * model.InChannels * model.ImageSize * model.ImageSize * 4;
        if (Generator == GeneratorKind.Determ && drawBytes > MaxDetermDrawBytes)
            throw new ArgumentException($"the determ generator draws [{NumSamples}, {model.InChannels}, {model.ImageSize}, {model.ImageSize}] float32 " +
                $"noise ({drawBytes / 1e9:F1} GB) per draw, as the official one does: use the determ-indiv `Generator` (same images for any batch " +
                "size, one stream per sample) or fewer samples per run");
        return this;
    }
}

/// <summary>One batch of results: samples [Start, Start + Count) of the run, as uint8 NHWC, with their labels.</summary>
public sealed record GenerationBatch(int Start, int Count, byte[] Images, int Height, int Width, int Channels, long[]? Labels)
    : ImageBatch(Images, Count, Height, Width, Channels, Labels);

/// <summary>Progress: batch b of B, network evaluation e of E within the batch.</summary>
public sealed record GenerationProgress(int Batch, int Batches, int SamplesDone, int NumSamples, int Evaluation, int EvaluationsPerBatch);
