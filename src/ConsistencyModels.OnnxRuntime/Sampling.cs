// The samplers over plain float arrays, with the libtorch samplers' math and op order (src/ConsistencyModels/Sampling):
// onestep, multistep (ts on the Karras grid, or an explicit σ list), and the Heun / Euler ODE solvers for EDM teachers.
using System.Globalization;

namespace ConsistencyModels.OnnxRuntime;

/// <summary>
/// D(x, σ): the denoised estimate of <paramref name="x"/> ([batch, C, H, W] row-major) at the noise levels
/// <paramref name="sigma"/> (one per row). The one seam between the network and the samplers, as in the library.
/// </summary>
public delegate float[] ArrayDenoiser(float[] x, float[] sigma);

/// <summary>The samplers this package runs (the library has also dpm, ancestral and progdist).</summary>
public enum SamplerKind { Onestep, Multistep, Heun, Euler }

/// <summary>One network evaluation finished: <paramref name="Evaluation"/> of <paramref name="TotalEvaluations"/>, at σ.</summary>
public sealed record SamplerStep(int Evaluation, int TotalEvaluations, double Sigma);

/// <summary>EDM churn knobs for Heun (Karras et al. 2022, Algorithm 2); the defaults give the deterministic ODE solver.</summary>
public sealed record ChurnOptions(double SChurn = 0.0, double STmin = 0.0, double STmax = double.PositiveInfinity, double SNoise = 1.0);

/// <summary>Sampler knobs, as the library's <c>SamplingOptions</c>.</summary>
public sealed record SamplingOptions
{
    public SamplerKind Sampler { get; init; } = SamplerKind.Onestep;
    /// <summary>Karras grid size: N of the training grid for multistep (40 CD), the number of steps for Heun / Euler.</summary>
    public int Steps { get; init; } = 40;
    /// <summary>Multistep: ascending indices into the <see cref="Steps"/>-point grid ending at steps − 1, e.g. [0, 22, 39].</summary>
    public IReadOnlyList<int>? Ts { get; init; }
    /// <summary>Multistep: the noise levels of the evaluations instead of <see cref="Ts"/>, strictly descending (ECT's 80, 0.821).</summary>
    public IReadOnlyList<double>? Sigmas { get; init; }
    public ChurnOptions Churn { get; init; } = new();
    /// <summary>Clamp every denoised estimate to [−1, 1] (upstream's clip_denoised).</summary>
    public bool ClipDenoised { get; init; } = true;

    /// <summary>Network evaluations per sample.</summary>
    public int Evaluations => Sampler switch
    {
        SamplerKind.Onestep => 1,
        SamplerKind.Multistep => Sigmas?.Count ?? (Ts?.Count ?? 1) - 1,
        SamplerKind.Heun => 2 * Steps - 1,
        _ => Steps,
    };

    /// <summary>Throws with the library's messages when the options cannot sample (e.g. ts not ending at steps − 1).</summary>
    public SamplingOptions Validate(double sigmaMin, double sigmaMax)
    {
        if (Steps < 1) throw new ArgumentException($"steps must be >= 1 (got {Steps})");
        if (Sampler == SamplerKind.Multistep)
        {
            if (Ts is not null && Sigmas is not null) throw new ArgumentException("give `Ts` or `Sigmas`, not both");
            if (Sigmas is { } sigmas)
            {
                if (sigmas.Count == 0) throw new ArgumentException("`Sigmas` needs at least one noise level, e.g. 80,0.821");
                for (int i = 0; i < sigmas.Count; i++)
                {
                    if (!(sigmas[i] > sigmaMin && sigmas[i] <= sigmaMax))
                        throw new ArgumentException($"`Sigmas` level {sigmas[i]:G} is outside (σ_min, σ_max] = ({sigmaMin:G}, {sigmaMax:G}]");
                    if (i > 0 && sigmas[i] >= sigmas[i - 1])
                        throw new ArgumentException($"`Sigmas` must be strictly descending noise levels (got {string.Join(",", sigmas)})");
                }
            }
            else
            {
                if (Ts is null || Ts.Count == 0)
                    throw new ArgumentException("the multistep sampler needs `Ts`, e.g. `Ts` 0,22,39 `Steps` 40, or `Sigmas`, e.g. 80,0.821");
                if (Steps < 2) throw new ArgumentException($"multistep sampling needs steps >= 2 (got {Steps})");
                if (Ts.Count < 2) throw new ArgumentException($"ts needs at least two indices, e.g. 0,{Steps - 1} (got {Ts.Count})");
                for (int i = 0; i < Ts.Count; i++)
                {
                    if (Ts[i] < 0 || Ts[i] > Steps - 1)
                        throw new ArgumentException($"ts index {Ts[i]} is outside [0, {Steps - 1}] (steps = {Steps} grid points)");
                    if (i > 0 && Ts[i] <= Ts[i - 1])
                        throw new ArgumentException($"ts must be strictly ascending grid indices (got {string.Join(",", Ts)})");
                }
                if (Ts[^1] != Steps - 1)
                    throw new ArgumentException($"ts must end at steps-1 = {Steps - 1} (got {Ts[^1]}): the last index sets the final noise level");
            }
        }
        else if (Sigmas is not null)
            throw new ArgumentException($"`Sigmas` only applies to the multistep `Sampler` (the sampler is {Sampler.ToString().ToLowerInvariant()})");
        if (Churn.SChurn < 0 || Churn.SNoise < 0) throw new ArgumentException("s_churn and s_noise must be >= 0");
        return this;
    }

    /// <summary>The multistep sampler's levels: one σ per evaluation, then the final level (σ_min for an explicit list).</summary>
    public IReadOnlyList<double> MultistepLevels(double sigmaMin, double sigmaMax, double rho) => Sigmas is { } s
        ? [.. s, sigmaMin]
        : Ts!.Select(i => KarrasGrid.SigmaAt(i, Steps, sigmaMin, sigmaMax, rho)).ToArray();

    /// <summary>Parses a sampler name as the CLI writes it.</summary>
    public static SamplerKind ParseSampler(string name) => name.Trim().ToLowerInvariant() switch
    {
        "onestep" => SamplerKind.Onestep,
        "multistep" => SamplerKind.Multistep,
        "heun" => SamplerKind.Heun,
        "euler" => SamplerKind.Euler,
        _ => throw new ArgumentException($"sampler '{name}' is not available on ONNX Runtime (onestep, multistep, heun or euler)"),
    };
}

/// <summary>The Karras et al. (2022) noise levels, computed as libtorch computes them (float32 grid; double per index).</summary>
public static class KarrasGrid
{
    /// <summary>
    /// <c>get_sigmas_karras(n)</c>: n levels from σ_max to σ_min plus a trailing 0, in float32 as upstream
    /// (linspace, then (ramp·(min^(1/ρ) − max^(1/ρ)) + max^(1/ρ))^ρ): σ_0 is 79.999985, not 80.
    /// </summary>
    public static float[] Sigmas(int n, double sigmaMin, double sigmaMax, double rho)
    {
        if (n < 1) throw new ArgumentOutOfRangeException(nameof(n), $"need at least one noise level (got {n})");
        float maxInv = (float)Math.Pow(sigmaMax, 1 / rho);
        float scale = (float)(Math.Pow(sigmaMin, 1 / rho) - Math.Pow(sigmaMax, 1 / rho)), r = (float)rho;
        var s = new float[n + 1];
        var ramp = Linspace01(n);
        for (int i = 0; i < n; i++) s[i] = (float)Math.Pow(ramp[i] * scale + maxInv, r);
        return s;
    }

    /// <summary>
    /// torch.linspace(0, 1, n) in float32 with libtorch's two-sided formula (start + i·step below n/2, end − (n−1−i)·step
    /// above). libtorch's vectorised kernel rounds a few middle values differently (by an ulp or two, depending on the
    /// CPU's vector width): Heun and Euler grids may differ from libtorch's by ~1e-6 relative; σ_0 (one-step) is exact.
    /// </summary>
    internal static float[] Linspace01(int n)
    {
        var a = new float[n];
        if (n == 1) return a;
        float step = 1f / (n - 1);
        int halfway = n / 2;
        for (int i = 0; i < n; i++) a[i] = i < halfway ? step * i : 1f - step * (n - i - 1);
        return a;
    }

    /// <summary>σ at grid index i of a <paramref name="steps"/>-point grid, in double (the multistep sampler's formula).</summary>
    public static double SigmaAt(double index, int steps, double sigmaMin, double sigmaMax, double rho)
    {
        double tMaxRho = Math.Pow(sigmaMax, 1 / rho), tMinRho = Math.Pow(sigmaMin, 1 / rho);
        return Math.Pow(tMaxRho + index / (steps - 1) * (tMinRho - tMaxRho), rho);
    }
}

/// <summary>The samplers as pure functions of (denoiser, x, noise, options); x is [batch, ...] row-major float32.</summary>
public static class Samplers
{
    /// <summary>
    /// Draws x_T = randn·σ_max for <paramref name="batch"/> rows from <paramref name="noise"/> and samples; returns images
    /// in [−1, 1] (the same draws, in the same order and shapes, as the library's <c>KarrasSample.Sample</c>).
    /// </summary>
    public static float[] Sample(ArrayDenoiser f, int batch, int perSample, SamplingOptions o, NoiseGenerator noise,
                                 double sigmaMin, double sigmaMax, double rho, Action<SamplerStep>? callback = null, CancellationToken cancel = default)
    {
        o.Validate(sigmaMin, sigmaMax);
        ArrayDenoiser g = (x, s) => { cancel.ThrowIfCancellationRequested(); return f(x, s); };
        var x = noise.Randn(batch, perSample);
        Scale(x, (float)sigmaMax);
        var result = o.Sampler switch
        {
            SamplerKind.Onestep => Onestep(g, x, batch, KarrasGrid.Sigmas(o.Steps, sigmaMin, sigmaMax, rho), callback),
            SamplerKind.Multistep => Multistep(g, x, batch, perSample, noise, o.MultistepLevels(sigmaMin, sigmaMax, rho), sigmaMin, sigmaMax, callback),
            SamplerKind.Heun => Heun(g, x, batch, perSample, KarrasGrid.Sigmas(o.Steps, sigmaMin, sigmaMax, rho), noise, o.Churn, callback),
            SamplerKind.Euler => Euler(g, x, batch, KarrasGrid.Sigmas(o.Steps, sigmaMin, sigmaMax, rho), callback),
            _ => throw new ArgumentOutOfRangeException(nameof(o)),
        };
        Clamp(result);
        return result;
    }

    /// <summary>One evaluation at σ_0 of the float32 grid: x_0 = f(x_T, σ_0).</summary>
    public static float[] Onestep(ArrayDenoiser f, float[] x, int batch, float[] sigmas, Action<SamplerStep>? callback = null)
    {
        var denoised = f(x, Fill(batch, sigmas[0]));
        callback?.Invoke(new SamplerStep(1, 1, sigmas[0]));
        return denoised;
    }

    /// <summary>
    /// Song et al. (2023) Algorithm 1 (stochastic_iterative_sampler): levels.Count − 1 evaluations; after each, x = x_0 +
    /// z·√(t_next² − σ_min²) with z drawn from <paramref name="noise"/>, also after the last one (scaled by 0), as upstream.
    /// </summary>
    public static float[] Multistep(ArrayDenoiser f, float[] x, int batch, int perSample, NoiseGenerator noise, IReadOnlyList<double> levels,
                                    double sigmaMin, double sigmaMax, Action<SamplerStep>? callback = null)
    {
        int total = levels.Count - 1;
        for (int i = 0; i < total; i++)
        {
            double t = levels[i];
            var x0 = f(x, Fill(batch, (float)t));
            callback?.Invoke(new SamplerStep(i + 1, total, t));
            double nextT = Math.Clamp(levels[i + 1], sigmaMin, sigmaMax);
            var z = noise.Randn(batch, perSample);
            float scale = (float)Math.Sqrt(nextT * nextT - sigmaMin * sigmaMin);
            for (int k = 0; k < x0.Length; k++) x0[k] += z[k] * scale;
            x = x0;
        }
        return x;
    }

    /// <summary>Karras et al. (2022) Algorithm 2 (sample_heun): 2·steps − 1 evaluations; a noise draw at every step even with no churn.</summary>
    public static float[] Heun(ArrayDenoiser f, float[] x, int batch, int perSample, float[] sigmas, NoiseGenerator noise, ChurnOptions o,
                               Action<SamplerStep>? callback = null)
    {
        int n = sigmas.Length, total = 2 * (n - 1) - 1, nfe = 0;
        x = (float[])x.Clone();
        for (int i = 0; i < n - 1; i++)
        {
            float sigma = sigmas[i];
            double gamma = (float)o.STmin <= sigma && sigma <= (float)o.STmax ? Math.Min(o.SChurn / (n - 1), Math.Sqrt(2) - 1) : 0.0;
            var eps = noise.Randn(batch, perSample);
            float sigmaHat = sigma * (float)(gamma + 1);
            if (gamma > 0)
            {
                float amp = MathF.Pow(sigmaHat * sigmaHat - sigma * sigma, 0.5f);
                for (int k = 0; k < x.Length; k++) x[k] += eps[k] * (float)o.SNoise * amp;
            }
            var denoised = f(x, Fill(batch, sigmaHat));
            callback?.Invoke(new SamplerStep(++nfe, total, sigmaHat));
            float sigmaNext = sigmas[i + 1], dt = sigmaNext - sigmaHat;
            var d = new float[x.Length];
            for (int k = 0; k < x.Length; k++) d[k] = (x[k] - denoised[k]) / sigmaHat;
            if (sigmaNext == 0)
            {
                for (int k = 0; k < x.Length; k++) x[k] += d[k] * dt;
                continue;
            }
            var x2 = new float[x.Length];
            for (int k = 0; k < x.Length; k++) x2[k] = x[k] + d[k] * dt;
            var denoised2 = f(x2, Fill(batch, sigmaNext));
            callback?.Invoke(new SamplerStep(++nfe, total, sigmaNext));
            for (int k = 0; k < x.Length; k++)
            {
                float d2 = (x2[k] - denoised2[k]) / sigmaNext;
                x[k] += (d[k] + d2) / 2 * dt;
            }
        }
        return x;
    }

    /// <summary>The Euler ODE solver (sample_euler): steps evaluations, no noise.</summary>
    public static float[] Euler(ArrayDenoiser f, float[] x, int batch, float[] sigmas, Action<SamplerStep>? callback = null)
    {
        int n = sigmas.Length;
        x = (float[])x.Clone();
        for (int i = 0; i < n - 1; i++)
        {
            float sigma = sigmas[i];
            var denoised = f(x, Fill(batch, sigma));
            callback?.Invoke(new SamplerStep(i + 1, n - 1, sigma));
            float dt = sigmas[i + 1] - sigma;
            for (int k = 0; k < x.Length; k++) x[k] += (x[k] - denoised[k]) / sigma * dt;
        }
        return x;
    }

    internal static float[] Fill(int batch, float value)
    {
        var a = new float[batch];
        Array.Fill(a, value);
        return a;
    }

    internal static void Scale(float[] x, float s)
    {
        for (int k = 0; k < x.Length; k++) x[k] *= s;
    }

    /// <summary>Clamps to [−1, 1] in place.</summary>
    public static void Clamp(float[] x)
    {
        for (int k = 0; k < x.Length; k++) x[k] = Math.Clamp(x[k], -1f, 1f);
    }

    /// <summary>
    /// The reference sampler's conversion of NCHW images in [−1, 1] to uint8 NHWC: ((x + 1)·127.5).clamp(0, 255), truncated
    /// toward zero, in float32 (bit-equal to the library's <c>ImageIO.ToUint8Nhwc</c>).
    /// </summary>
    public static byte[] ToUint8Nhwc(ReadOnlySpan<float> x, int batch, int channels, int height, int width)
    {
        var u8 = new byte[batch * channels * height * width];
        int plane = height * width;
        for (int b = 0; b < batch; b++)
            for (int c = 0; c < channels; c++)
                for (int p = 0; p < plane; p++)
                {
                    float v = (x[(b * channels + c) * plane + p] + 1f) * 127.5f;
                    u8[(b * plane + p) * channels + c] = (byte)Math.Clamp(v, 0f, 255f);
                }
        return u8;
    }

    internal static string Invariant(double v) => v.ToString("G", CultureInfo.InvariantCulture);
}
