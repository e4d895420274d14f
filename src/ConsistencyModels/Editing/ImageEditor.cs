// The editing entry point of the library: one request in, reference / degraded / edited images out (paper §5.3).
using ConsistencyModels.Diffusion;
using ConsistencyModels.IO.Images;
using ConsistencyModels.Pipelines;
using ConsistencyModels.Sampling;
using static TorchSharp.torch;

namespace ConsistencyModels.Editing;

public enum EditTask { Inpaint, Colorize, SuperRes, Stroke, Interpolate, Denoise }

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
}

/// <summary>uint8 NHWC images: per reference its degraded form and the edit (interpolation: Edited is [pairs·frames], row-major).</summary>
public sealed record EditResult(Tensor? Reference, Tensor? Degraded, Tensor Edited, int Columns)
{
    /// <summary>The images to show as one grid of <see cref="Columns"/> columns: per row reference, input, result (interpolation: the frames).</summary>
    public Tensor Grid() => Reference is null ? Edited : stack([Reference, Degraded!, Edited], 1).flatten(0, 1);
}

public static class ImageEditor
{
    public static EditResult Edit(ConsistencyPipeline pipeline, EditRequest r, Action<SamplerStep>? callback = null)
    {
        var config = pipeline.Config;
        int c = config.InChannels, s = config.ImageSize;
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        int n = r.Task == EditTask.Interpolate ? r.Pairs : (int)(r.Images?.shape[0] ?? throw new ArgumentException($"{Name(r.Task)} needs input images"));
        if (r.Images is { } img && (img.dim() != 4 || img.shape[1] != c || img.shape[2] != s || img.shape[3] != s))
            throw new ArgumentException($"input images are [{string.Join(", ", img.shape)}], the model needs [B, {c}, {s}, {s}]");
        if (r.Task == EditTask.Colorize && c != 3)
            throw new ArgumentException($"colorize needs an RGB model; this one has {c} channel{(c == 1 ? "" : "s")}");
        var labels = Labels(r.ClassLabels, n, config.ResolvedNumClasses, pipeline.Device);
        var f = pipeline.CreateDenoiser(labels);
        using var rng = SampleGenerators.Create(r.Generator, n, r.Seed);
        var device = pipeline.Device;

        if (r.Task == EditTask.Interpolate)
        {
            var z1 = rng.Randn([n, c, s, s], device);
            var z2 = rng.Randn([n, c, s, s], device);
            var frames = Interpolation.Interpolate(f, z1, z2, r.Frames, config.SigmaMax);       // [F, B, C, S, S]
            var rows = frames.transpose(0, 1).reshape(n * r.Frames, c, s, s);
            return Detach(new EditResult(null, null, ImageIO.ToUint8Nhwc(rows), r.Frames));
        }

        var reference = r.Images!.to(device);
        if (r.Task == EditTask.Denoise)
        {
            double sigma = r.Sigma ?? Denoising.DefaultSigma;
            var noisy = r.AddNoise ? Denoising.AddNoise(reference, sigma, rng) : reference;
            var clean = Denoising.Denoise(f, noisy, sigma);
            return Detach(new EditResult(ImageIO.ToUint8Nhwc(reference), ImageIO.ToUint8Nhwc(noisy), ImageIO.ToUint8Nhwc(clean), 3));
        }

        using EditOperator op = r.Task switch
        {
            EditTask.Inpaint => new Inpainting(r.KnownMask ?? EditInputs.CentreSquareMask(s)),
            EditTask.Colorize => new Colorization(),
            EditTask.SuperRes => new SuperResolution(r.PatchSize ?? (s >= 64 ? 8 : 4), c, s),
            EditTask.Stroke => new StrokeGuided(),
            _ => throw new ArgumentOutOfRangeException(nameof(r), r.Task, null),
        };
        var options = new MultistepOptions(r.ResolvedTs, r.Steps, config.SigmaMin, config.SigmaMax, config.Rho);
        options.Validate();
        var x = ZeroShotEditor.Start(op, reference, rng, options);
        // Stroke: show what the model starts from (the painting plus noise); otherwise the degraded reference.
        var shown = r.Task == EditTask.Stroke ? x.clamp(-1, 1) : null;
        var (edited, degraded) = ZeroShotEditor.Run(f, x, reference, op, rng, options, callback);
        return Detach(new EditResult(ImageIO.ToUint8Nhwc(reference), ImageIO.ToUint8Nhwc(shown ?? degraded), ImageIO.ToUint8Nhwc(edited), 3));
    }

    public static string Name(EditTask t) => t switch
    {
        EditTask.SuperRes => "superres",
        _ => t.ToString().ToLowerInvariant(),
    };

    private static Tensor? Labels(IReadOnlyList<int>? given, int n, int? numClasses, Device device)
    {
        if (numClasses is not int k)
        {
            if (given is { Count: > 0 }) throw new ArgumentException("--class-labels given, but the model is unconditional");
            return null;
        }
        if (given is null || given.Count == 0)
            throw new ArgumentException($"the model is class-conditional ({k} classes): give --class-labels (one per image, or one for all)");
        if (given.Count != 1 && given.Count != n) throw new ArgumentException($"{given.Count} class labels for {n} images: give one per image, or one for all");
        if (given.Any(l => l < 0 || l >= k)) throw new ArgumentException($"class labels must be in 0..{k - 1} (got {string.Join(",", given)})");
        var all = Enumerable.Range(0, n).Select(i => (long)given[given.Count == 1 ? 0 : i]).ToArray();
        return tensor(all, device: device);
    }

    private static EditResult Detach(EditResult r)
    {
        r.Reference?.MoveToOuterDisposeScope();
        r.Degraded?.MoveToOuterDisposeScope();
        r.Edited.MoveToOuterDisposeScope();
        return r;
    }
}
