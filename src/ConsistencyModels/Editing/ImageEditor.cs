// The editing entry point of the library: one request in, reference / degraded / edited images out (paper §5.3).
using ConsistencyModels.Diffusion;
using ConsistencyModels.IO.Images;
using ConsistencyModels.Pipelines;
using ConsistencyModels.Sampling;
using static TorchSharp.torch;

namespace ConsistencyModels.Editing;

public sealed record EditRequest
{
    public required EditTask Task { get; init; }
    /// <summary>References [B, C, S, S] in [−1, 1] (every task but <see cref="EditTask.Interpolate"/>).</summary>
    public Tensor? Images { get; init; }
    /// <summary>Inpainting: 1 = keep, 0 = regenerate; [1 or B, 1, S, S]. Default: <see cref="EditInputs.CentreSquareMask"/>.</summary>
    public Tensor? KnownMask { get; init; }
    /// <summary>One label per image (or per interpolation pair), or one for all; class-conditional models only.</summary>
    public IReadOnlyList<int>? ClassLabels { get; init; }
    /// <summary>Grid indices (default: every index of the grid for inpaint/colorize/superres, 16,20,39 for stroke).</summary>
    public IReadOnlyList<int>? Ts { get; init; }
    public int Steps { get; init; } = 40;
    /// <summary>Explicit noise levels instead of <see cref="Ts"/>, strictly descending (one evaluation each; the last step ends at σ_min).</summary>
    public IReadOnlyList<double>? Sigmas { get; init; }
    /// <summary>Super-resolution patch side (default 8 from 64 px up, else 4).</summary>
    public int? PatchSize { get; init; }
    /// <summary>Denoising noise level (default <see cref="Denoising.DefaultSigma"/>).</summary>
    public double? Sigma { get; init; }
    /// <summary>Denoising: add σ-noise to the (clean) references first, to show the round trip; false when they are noisy already.</summary>
    public bool AddNoise { get; init; } = true;
    /// <summary>Interpolation: images per pair, and number of latent pairs.</summary>
    public int Frames { get; init; } = 8;
    public int Pairs { get; init; } = 1;
    public long Seed { get; init; } = 42;
    public GeneratorKind Generator { get; init; } = GeneratorKind.Determ;

    public IReadOnlyList<int> ResolvedTs => Ts ?? (Task == EditTask.Stroke ? StrokeGuided.DefaultTs : Enumerable.Range(0, Steps).ToList());

    /// <summary>Network evaluations per image (interpolation: per pair), as the progress callback counts them.</summary>
    public int Evaluations => Task switch
    {
        EditTask.Interpolate => Frames,
        EditTask.Denoise => 1,
        _ => Sigmas?.Count ?? ResolvedTs.Count - 1,
    };
}

/// <summary>
/// Per reference its degraded form and the edit (interpolation: only <see cref="Edited"/>, [pairs·frames] row-major),
/// laid out in grids of <see cref="Columns"/> columns.
/// </summary>
public sealed record EditResult(ImageBatch? Reference, ImageBatch? Degraded, ImageBatch Edited, int Columns)
{
    /// <summary>The images to show as one grid of <see cref="Columns"/> columns: per row reference, input, result (interpolation: the frames).</summary>
    public ImageBatch Grid() => Reference is null ? Edited : ImageBatch.Interleave([Reference, Degraded!, Edited]);
}

public static class ImageEditor
{
    /// <summary>Runs <paramref name="r"/>; <paramref name="cancel"/> is observed before every network evaluation.</summary>
    public static EditResult Edit(ConsistencyPipeline pipeline, EditRequest r, Action<SamplerStep>? callback = null, CancellationToken cancel = default)
    {
        var config = pipeline.Config;
        int c = config.InChannels, s = config.ImageSize;
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        int n = r.Task.TakesImages ? (int)(r.Images?.shape[0] ?? throw new ArgumentException($"{r.Task.Name} needs input images")) : r.Pairs;
        if (r.Images is { } img && (img.dim() != 4 || img.shape[1] != c || img.shape[2] != s || img.shape[3] != s))
            throw new ArgumentException($"input images are [{string.Join(", ", img.shape)}], the model needs [B, {c}, {s}, {s}]");
        r.Task.CheckModel(config);
        var labels = Labels(r.ClassLabels, n, config.ResolvedNumClasses);
        var f = pipeline.CreateDenoiser(labels is null ? null : tensor(labels, device: pipeline.Device)).Cancellable(cancel);
        using var rng = SampleGenerators.Create(r.Generator, n, r.Seed);
        var device = pipeline.Device;

        if (r.Task == EditTask.Interpolate)
        {
            var z1 = rng.Randn([n, c, s, s], device);
            var z2 = rng.Randn([n, c, s, s], device);
            var frames = Interpolation.Interpolate(f, z1, z2, r.Frames, config.SigmaMax, callback);     // [F, B, C, S, S]
            var rows = frames.transpose(0, 1).reshape(n * r.Frames, c, s, s);
            return new EditResult(null, null, Images(rows, labels?.SelectMany(l => Enumerable.Repeat(l, r.Frames)).ToArray()), r.Frames);
        }

        var reference = r.Images!.to(device);
        if (r.Task == EditTask.Denoise)
        {
            double sigma = r.Sigma ?? Denoising.DefaultSigma;
            var noisy = r.AddNoise ? Denoising.AddNoise(reference, sigma, rng) : reference;
            var clean = Denoising.Denoise(f, noisy, sigma, callback);
            return new EditResult(Images(reference, labels), Images(noisy, labels), Images(clean, labels), 3);
        }

        using EditOperator op = r.Task switch
        {
            EditTask.Inpaint => new Inpainting(r.KnownMask ?? EditInputs.CentreSquareMask(s)),
            EditTask.Colorize => new Colorization(),
            EditTask.SuperRes => new SuperResolution(r.PatchSize ?? (s >= 64 ? 8 : 4), c, s),
            EditTask.Stroke => new StrokeGuided(),
            _ => throw new ArgumentOutOfRangeException(nameof(r), r.Task, null),
        };
        if (r.Sigmas is not null && r.Ts is not null) throw new ArgumentException("give `Ts` or `Sigmas`, not both");
        var options = r.Sigmas is { } sigmas
            ? MultistepOptions.FromSigmas(sigmas, config.SigmaMin, config.SigmaMax, config.Rho)
            : new MultistepOptions(r.ResolvedTs, r.Steps, config.SigmaMin, config.SigmaMax, config.Rho);
        options.Validate();
        options.Validate();
        var x = ZeroShotEditor.Start(op, reference, rng, options);
        // Stroke: show what the model starts from (the painting plus noise); otherwise the degraded reference.
        var shown = r.Task == EditTask.Stroke ? x.clamp(-1, 1) : null;
        var (edited, degraded) = ZeroShotEditor.Run(f, x, reference, op, rng, options, callback);
        return new EditResult(Images(reference, labels), Images(shown ?? degraded, labels), Images(edited, labels), 3);
    }

    private static ImageBatch Images(Tensor x, long[]? labels) => ImageBatch.FromTensor(ImageIO.ToUint8Nhwc(x), labels);

    private static long[]? Labels(IReadOnlyList<int>? given, int n, int? numClasses)
    {
        if (numClasses is not int k)
        {
            if (given is { Count: > 0 }) throw new ArgumentException("`ClassLabels` given, but the model is unconditional");
            return null;
        }
        if (given is null || given.Count == 0)
            throw new ArgumentException($"the model is class-conditional ({k} classes): give `ClassLabels` (one per image, or one for all)");
        if (given.Count != 1 && given.Count != n) throw new ArgumentException($"{given.Count} class labels for {n} images: give one per image, or one for all");
        if (given.Any(l => l < 0 || l >= k)) throw new ArgumentException($"class labels must be in 0..{k - 1} (got {string.Join(",", given)})");
        return [.. Enumerable.Range(0, n).Select(i => (long)given[given.Count == 1 ? 0 : i])];
    }
}
