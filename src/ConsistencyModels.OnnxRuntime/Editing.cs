// Zero-shot editing over arrays, Song et al. (2023) Algorithm 4 — the library's Editing/ZeroShotEditor and ImageEditor:
// the multistep sampler on a denoiser followed by a projection that puts the reference's known part back.
namespace ConsistencyModels.OnnxRuntime;

/// <summary>The edits this package runs (the library has also interpolation).</summary>
public enum EditTask { Inpaint, Colorize, SuperRes, Stroke, Denoise }

/// <summary>
/// An edit's projection: <see cref="Replace"/> is the official <c>replacement(reference, x)</c>,
/// A⁻¹[(A reference)·known + (A x)·(1 − known)], written directly over NCHW float arrays.
/// </summary>
public abstract class EditProjection
{
    /// <summary>x with the reference's known part put back (a new array).</summary>
    public abstract float[] Replace(float[] reference, float[] x, int batch);

    /// <summary>The input the model sees: the reference with its unknown part set to 0 in the latent (inpainting: −1 pixels).</summary>
    public virtual float[] Degrade(float[] reference, int batch) => Replace(reference, new float[reference.Length], batch);
}

/// <summary>A = I; <c>known</c> (1 = keep, 0 = regenerate) is one H×W mask for all images or one per image.</summary>
public sealed class InpaintingProjection : EditProjection
{
    private readonly float[] _known;
    private readonly int _channels, _plane;

    public InpaintingProjection(float[] known, int channels, int imageSize)
    {
        (_known, _channels, _plane) = (known, channels, imageSize * imageSize);
        if (known.Length % _plane != 0) throw new ArgumentException($"the mask has {known.Length} values, not a multiple of {imageSize}×{imageSize}");
    }

    /// <summary>The default mask of <c>cm edit inpaint</c>: the centre square of half the side is regenerated.</summary>
    public static float[] CentreSquareMask(int size)
    {
        var m = new float[size * size];
        Array.Fill(m, 1f);
        for (int i = size / 4; i < size - size / 4; i++)
            for (int j = size / 4; j < size - size / 4; j++) m[i * size + j] = 0f;
        return m;
    }

    public override float[] Replace(float[] reference, float[] x, int batch)
    {
        int masks = _known.Length / _plane;
        if (masks != 1 && masks != batch) throw new ArgumentException($"{masks} masks for {batch} images: give one, or one per image");
        var r = new float[x.Length];
        for (int b = 0; b < batch; b++)
            for (int c = 0; c < _channels; c++)
            {
                int o = (b * _channels + c) * _plane, mo = (masks == 1 ? 0 : b) * _plane;
                for (int p = 0; p < _plane; p++)
                {
                    float k = _known[mo + p];
                    r[o + p] = reference[o + p] * k + x[o + p] * (1f - k);
                }
            }
        return r;
    }

    public override float[] Degrade(float[] reference, int batch)
    {
        var minusOnes = new float[reference.Length];
        Array.Fill(minusOnes, -1f);
        return Replace(reference, minusOnes, batch);
    }
}

/// <summary>
/// Colorization: the latent axis along the luminance direction (0.2989, 0.5870, 0.1140), normalised, is kept from the
/// reference, the two chroma axes generated. Equal to the library's QR basis (the projection does not depend on the
/// other two axes). Needs three channels.
/// </summary>
public sealed class ColorizationProjection(int imageSize) : EditProjection
{
    private static readonly float[] Q0 = Normalise([0.2989, 0.5870, 0.1140]);
    private readonly int _plane = imageSize * imageSize;

    public override float[] Replace(float[] reference, float[] x, int batch)
    {
        var r = new float[x.Length];
        for (int b = 0; b < batch; b++)
        {
            int o = b * 3 * _plane;
            for (int p = 0; p < _plane; p++)
            {
                int i0 = o + p, i1 = i0 + _plane, i2 = i1 + _plane;
                float lumRef = reference[i0] * Q0[0] + reference[i1] * Q0[1] + reference[i2] * Q0[2];
                float lumX = x[i0] * Q0[0] + x[i1] * Q0[1] + x[i2] * Q0[2];
                float delta = lumRef - lumX;
                r[i0] = x[i0] + Q0[0] * delta;
                r[i1] = x[i1] + Q0[1] * delta;
                r[i2] = x[i2] + Q0[2] * delta;
            }
        }
        return r;
    }

    private static float[] Normalise(double[] v)
    {
        double n = Math.Sqrt(v.Sum(a => a * a));
        return [.. v.Select(a => (float)(a / n))];
    }
}

/// <summary>Super-resolution: the mean of every p×p patch (per channel) is kept, the detail generated.</summary>
public sealed class SuperResolutionProjection : EditProjection
{
    private readonly int _p, _channels, _size;

    public SuperResolutionProjection(int patchSize, int channels, int imageSize)
    {
        if (patchSize < 2) throw new ArgumentException($"`PatchSize` must be at least 2 (got {patchSize})");
        if (imageSize % patchSize != 0) throw new ArgumentException($"the image size {imageSize} is not a multiple of the patch size {patchSize}");
        (_p, _channels, _size) = (patchSize, channels, imageSize);
    }

    public override float[] Replace(float[] reference, float[] x, int batch)
    {
        var r = (float[])x.Clone();
        int n = _size / _p, plane = _size * _size;
        float inv = 1f / (_p * _p);
        for (int bc = 0; bc < batch * _channels; bc++)
            for (int pi = 0; pi < n; pi++)
                for (int pj = 0; pj < n; pj++)
                {
                    float sumRef = 0, sumX = 0;
                    for (int u = 0; u < _p; u++)
                        for (int v = 0; v < _p; v++)
                        {
                            int k = bc * plane + (pi * _p + u) * _size + pj * _p + v;
                            sumRef += reference[k]; sumX += x[k];
                        }
                    float delta = (sumRef - sumX) * inv;
                    for (int u = 0; u < _p; u++)
                        for (int v = 0; v < _p; v++) r[bc * plane + (pi * _p + u) * _size + pj * _p + v] += delta;
                }
        return r;
    }

    /// <summary>The official <c>average_image_patches</c>: every patch replaced by its mean.</summary>
    public override float[] Degrade(float[] reference, int batch) => Replace(reference, new float[reference.Length], batch);
}

/// <summary>Stroke-guided generation (SDEdit-like): nothing is kept; the painting only sets the start y + t₁·z.</summary>
public sealed class StrokeProjection : EditProjection
{
    public static IReadOnlyList<int> DefaultTs { get; } = [16, 20, 39];
    public override float[] Replace(float[] reference, float[] x, int batch) => (float[])x.Clone();
    public override float[] Degrade(float[] reference, int batch) => (float[])reference.Clone();
}

/// <summary>An edit of <see cref="Count"/> reference images ([Count, C, S, S] in [−1, 1], row-major).</summary>
public sealed record OnnxEditRequest
{
    public required EditTask Task { get; init; }
    public required float[] Images { get; init; }
    public required int Count { get; init; }
    /// <summary>Inpainting: 1 = keep, 0 = regenerate; one S×S mask or one per image. Default: the centre square.</summary>
    public float[]? KnownMask { get; init; }
    public IReadOnlyList<int>? ClassLabels { get; init; }
    /// <summary>Grid indices (default: every index of the grid; stroke: 16,20,39).</summary>
    public IReadOnlyList<int>? Ts { get; init; }
    public int Steps { get; init; } = 40;
    /// <summary>Explicit descending noise levels instead of <see cref="Ts"/>.</summary>
    public IReadOnlyList<double>? Sigmas { get; init; }
    /// <summary>Super-resolution patch side (default 8 from 64 px up, else 4).</summary>
    public int? PatchSize { get; init; }
    /// <summary>Denoising: the noise level (default σ at index 12 of the 18-point grid, ≈ 0.2964).</summary>
    public double? Sigma { get; init; }
    /// <summary>Denoising: add σ-noise to the references first.</summary>
    public bool AddNoise { get; init; } = true;
    public long Seed { get; init; } = 42;
    public NoiseKind Generator { get; init; } = NoiseKind.Determ;

    public IReadOnlyList<int> ResolvedTs => Ts ?? (Task == EditTask.Stroke ? StrokeProjection.DefaultTs : Enumerable.Range(0, Steps).ToList());
}

/// <summary>Per reference its degraded form and the edit, NCHW in [−1, 1] (the edit is not clamped, as the library's).</summary>
public sealed record OnnxEditResult(float[] Reference, float[] Degraded, float[] Edited, int Count, long[]? Labels);

public static class ZeroShotEdits
{
    /// <summary>
    /// Runs <paramref name="r"/> on <paramref name="model"/> with the library's draws: z for the start (or the denoising
    /// noise) first, then one tensor after every evaluation.
    /// </summary>
    public static OnnxEditResult Edit(OnnxDenoiser model, OnnxEditRequest r, Action<SamplerStep>? callback = null, CancellationToken cancel = default)
    {
        var info = model.Info;
        int n = r.Count, c = info.InChannels, s = info.ImageSize, per = info.ImageLength;
        if (n < 1 || r.Images.Length != n * per) throw new ArgumentException($"input images hold {r.Images.Length} values, the model needs {n} × [{c}, {s}, {s}]");
        if (r.Task == EditTask.Colorize && c != 3) throw new ArgumentException($"colorize needs an RGB model; this model has {c} channel{(c == 1 ? "" : "s")}");
        var labels = Labels(r.ClassLabels, n, info);
        var den = model.AsDenoiser(labels, info.ClipDenoised);
        ArrayDenoiser f = (x, sg) => { cancel.ThrowIfCancellationRequested(); return den(x, sg); };
        var noise = new NoiseGenerator(r.Generator, n, r.Seed);
        var reference = r.Images;

        if (r.Task == EditTask.Denoise)
        {
            double sigma = r.Sigma ?? KarrasGrid.SigmaAt(12, 18, 0.002, 80, 7);
            if (!(sigma > 0)) throw new ArgumentException($"`Sigma` must be positive (got {sigma})");
            var noisy = reference;
            if (r.AddNoise)
            {
                var z = noise.Randn(n, per);
                noisy = new float[reference.Length];
                for (int k = 0; k < noisy.Length; k++) noisy[k] = reference[k] + z[k] * (float)sigma;
            }
            var clean = f(noisy, Samplers.Fill(n, (float)sigma));
            callback?.Invoke(new SamplerStep(1, 1, sigma));
            return new OnnxEditResult(reference, noisy, clean, n, labels);
        }

        EditProjection op = r.Task switch
        {
            EditTask.Inpaint => new InpaintingProjection(r.KnownMask ?? InpaintingProjection.CentreSquareMask(s), c, s),
            EditTask.Colorize => new ColorizationProjection(s),
            EditTask.SuperRes => new SuperResolutionProjection(r.PatchSize ?? (s >= 64 ? 8 : 4), c, s),
            EditTask.Stroke => new StrokeProjection(),
            _ => throw new ArgumentOutOfRangeException(nameof(r), r.Task, null),
        };
        if (r.Sigmas is not null && r.Ts is not null) throw new ArgumentException("give `Ts` or `Sigmas`, not both");
        var options = new SamplingOptions
        {
            Sampler = SamplerKind.Multistep, Steps = r.Steps, Ts = r.Sigmas is null ? r.ResolvedTs : null, Sigmas = r.Sigmas,
        }.Validate(info.SigmaMin, info.SigmaMax);
        var levels = options.MultistepLevels(info.SigmaMin, info.SigmaMax, info.Rho);

        // Start: A⁻¹[(A y)·known] + t₁·z (ZeroShotEditor.Start), z the first draw.
        var degraded = op.Degrade(reference, n);
        var z0 = noise.Randn(n, per);
        var x = new float[degraded.Length];
        for (int k = 0; k < x.Length; k++) x[k] = degraded[k] + z0[k] * (float)levels[0];
        var shown = r.Task == EditTask.Stroke ? x.Select(v => Math.Clamp(v, -1f, 1f)).ToArray() : degraded;

        // The multistep sampler on the projected denoiser: x₀ = replace(degraded, clamp(f(x, t))).
        ArrayDenoiser projected = (xi, sg) =>
        {
            var d = f(xi, sg);
            Samplers.Clamp(d);
            return op.Replace(degraded, d, n);
        };
        var edited = Samplers.Multistep(projected, x, n, per, noise, levels, info.SigmaMin, info.SigmaMax, callback);
        return new OnnxEditResult(reference, shown, edited, n, labels);
    }

    private static long[]? Labels(IReadOnlyList<int>? given, int n, OnnxModelInfo info)
    {
        if (!info.IsConditional)
        {
            if (given is { Count: > 0 }) throw new ArgumentException("`ClassLabels` given, but the model is unconditional");
            return null;
        }
        int k = info.NumClasses;
        if (given is null || given.Count == 0)
            throw new ArgumentException($"the model is class-conditional ({k} classes): give `ClassLabels` (one per image, or one for all)");
        if (given.Count != 1 && given.Count != n) throw new ArgumentException($"{given.Count} class labels for {n} images: give one per image, or one for all");
        if (given.Any(l => l < 0 || l >= k)) throw new ArgumentException($"class labels must be in 0..{k - 1} (got {string.Join(",", given)})");
        return [.. Enumerable.Range(0, n).Select(i => (long)given[given.Count == 1 ? 0 : i])];
    }
}
