// Generate images from an exported model: the ONNX Runtime counterpart of the library's ConsistencyPipeline.GenerateBatches,
// drawing the same noise and labels in the same order and shapes, so a seed gives the libtorch path's images.
namespace ConsistencyModels.OnnxRuntime;

/// <summary>What to generate (the library's <c>GenerationRequest</c>, over this package's types).</summary>
public sealed record OnnxGenerationRequest
{
    public int NumSamples { get; init; } = 16;
    public int BatchSize { get; init; } = 16;
    public long Seed { get; init; } = 42;
    public NoiseKind Generator { get; init; } = NoiseKind.Determ;
    public SamplingOptions Sampling { get; init; } = new();
    /// <summary>One label for all samples or one per sample; null draws them with <c>randint</c> from a generator seeded with <see cref="Seed"/>.</summary>
    public IReadOnlyList<int>? ClassLabels { get; init; }
    /// <summary>Move the generator's sample offset to each batch's first sample (set_done_samples): images independent of the batch size.</summary>
    public bool AdvanceGeneratorPerBatch { get; init; } = true;
    /// <summary>Generate only samples [FirstSample, EndSample) of the run (a shard).</summary>
    public int FirstSample { get; init; }
    public int? EndSample { get; init; }
    public int ResolvedEndSample => EndSample ?? NumSamples;

    /// <summary>Throws naming the problem (counts, labels against the model's classes, sampler options).</summary>
    public OnnxGenerationRequest Validate(OnnxModelInfo model)
    {
        if (NumSamples < 1) throw new ArgumentException($"`NumSamples` must be >= 1 (got {NumSamples})");
        if (BatchSize < 1) throw new ArgumentException($"`BatchSize` must be >= 1 (got {BatchSize})");
        if (FirstSample < 0 || ResolvedEndSample > NumSamples || FirstSample >= ResolvedEndSample)
            throw new ArgumentException($"samples [{FirstSample}, {ResolvedEndSample}) are not a non-empty range inside [0, {NumSamples})");
        if ((FirstSample > 0 || ResolvedEndSample < NumSamples) && (!AdvanceGeneratorPerBatch || Generator == NoiseKind.Dummy))
            throw new ArgumentException("a sample range (shard) needs per-sample noise: the determ or determ-indiv generator, advanced per batch");
        if (ClassLabels is { } labels)
        {
            if (!model.IsConditional) throw new ArgumentException("this model is unconditional (class_cond=false): class labels cannot be used");
            if (labels.Count == 0) throw new ArgumentException("the class label list is empty");
            if (labels.Count != 1 && labels.Count != NumSamples)
                throw new ArgumentException($"give one class label or one per sample: {labels.Count} labels for {NumSamples} samples");
            foreach (var l in labels)
                if (l < 0 || l >= model.NumClasses) throw new ArgumentException($"class label {l} is outside [0, {model.NumClasses - 1}]");
        }
        Sampling.Validate(model.SigmaMin, model.SigmaMax);
        return this;
    }
}

/// <summary>Images as uint8 NHWC with their labels (null for unconditional models); a batch is samples [Start, Start + Count).</summary>
public sealed record OnnxImages(int Start, int Count, byte[] Pixels, int Height, int Width, int Channels, long[]? Labels);

/// <summary>Progress: batch b of B, network evaluation e of E within the batch.</summary>
public sealed record OnnxProgress(int Batch, int Batches, int SamplesDone, int NumSamples, int Evaluation, int EvaluationsPerBatch);

/// <summary>An exported model and the sampling around it.</summary>
public sealed class OnnxPipeline(OnnxDenoiser denoiser) : IDisposable
{
    public OnnxDenoiser Denoiser { get; } = denoiser;
    public OnnxModelInfo Info => Denoiser.Info;

    public static OnnxPipeline Load(string path, OnnxModelOptions? options = null) => new(OnnxDenoiser.Load(path, options));

    /// <summary>A request for this model with its default sampler, steps, ts and generator.</summary>
    public OnnxGenerationRequest DefaultRequest(int numSamples = 16, long seed = 42) => new()
    {
        NumSamples = numSamples, BatchSize = numSamples, Seed = seed, Generator = Info.DefaultGenerator ?? NoiseKind.Determ, Sampling = Info.DefaultSampling(),
    };

    /// <summary>All images of the requested range together.</summary>
    public OnnxImages Generate(OnnxGenerationRequest request, IProgress<OnnxProgress>? progress = null, CancellationToken cancel = default)
    {
        int first = request.FirstSample, count = request.ResolvedEndSample - first, size = Info.ImageSize, ch = Info.InChannels;
        var pixels = new byte[count * size * size * ch];
        var labels = Info.IsConditional ? new long[count] : null;
        foreach (var b in GenerateBatches(request, progress, cancel))
        {
            Array.Copy(b.Pixels, 0, pixels, (b.Start - first) * size * size * ch, b.Pixels.Length);
            if (labels is not null) Array.Copy(b.Labels!, 0, labels, b.Start - first, b.Count);
        }
        return new OnnxImages(first, count, pixels, size, size, ch, labels);
    }

    /// <summary>
    /// Batch by batch, as the library: every network call has <see cref="OnnxGenerationRequest.BatchSize"/> rows; a last,
    /// partial batch is padded (generator rows and labels clamped to the last sample) and the padding dropped.
    /// </summary>
    public IEnumerable<OnnxImages> GenerateBatches(OnnxGenerationRequest request, IProgress<OnnxProgress>? progress = null, CancellationToken cancel = default)
    {
        request.Validate(Info);
        int n = request.NumSamples, size = Info.ImageSize, ch = Info.InChannels, bs = request.BatchSize, per = Info.ImageLength;
        long[]? labels = ResolveLabels(request);
        var noise = new NoiseGenerator(request.Generator, n, request.Seed);
        int first = request.FirstSample, end = request.ResolvedEndSample;
        int batches = (end - first + bs - 1) / bs, evals = request.Sampling.Evaluations;
        for (int b = 0, done = first; done < end; b++)
        {
            cancel.ThrowIfCancellationRequested();
            int keep = Math.Min(bs, end - done), batchIndex = b, doneSoFar = done;
            if (request.AdvanceGeneratorPerBatch) noise.SetDoneSamples(done);
            var y = labels is null ? null : Enumerable.Range(done, bs).Select(i => labels[Math.Min(i, n - 1)]).ToArray();
            var x = Samplers.Sample(Denoiser.AsDenoiser(y, request.Sampling.ClipDenoised), bs, per, request.Sampling, noise,
                                    Info.SigmaMin, Info.SigmaMax, Info.Rho,
                                    step => progress?.Report(new OnnxProgress(batchIndex + 1, batches, doneSoFar, end, step.Evaluation, evals)), cancel);
            var bytes = Samplers.ToUint8Nhwc(x.AsSpan(0, keep * per), keep, ch, size, size);
            var batchLabels = labels?[done..(done + keep)];
            done += keep;
            progress?.Report(new OnnxProgress(batchIndex + 1, batches, done, end, evals, evals));
            yield return new OnnxImages(done - keep, keep, bytes, size, size, ch, batchLabels);
        }
    }

    /// <summary>Given labels, or <c>randint(0, classes, [n])</c> from a libtorch CPU generator seeded with the seed (as the library).</summary>
    private long[]? ResolveLabels(OnnxGenerationRequest request)
    {
        int n = request.NumSamples;
        if (!Info.IsConditional) return null;
        if (request.ClassLabels is { } given) return [.. Enumerable.Range(0, n).Select(i => (long)given[given.Count == 1 ? 0 : i])];
        return new TorchCpuGenerator(unchecked((ulong)request.Seed)).Randint(0, Info.NumClasses, n);
    }

    public void Dispose() => Denoiser.Dispose();
}
