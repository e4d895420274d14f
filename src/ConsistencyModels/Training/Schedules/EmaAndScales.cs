// Target-EMA rate μ(k) and discretisation N(k) per global step — port of cm/script_util.py::create_ema_and_scales_fn
// (paper §5 / Table 3), plus the iCT doubling curriculum (Song & Dhariwal 2023, "Improved Techniques for Training
// Consistency Models", arXiv 2310.14189, §3.4 Eq. 7).
namespace ConsistencyModels.Training;

/// <summary>How the target network's EMA rate μ evolves (the official <c>--target_ema_mode</c>).</summary>
public enum TargetEmaMode
{
    /// <summary>μ = start_ema at every step (CD: 0.95).</summary>
    Fixed,
    /// <summary>μ(k) = exp(s0·log μ0 / N(k)) — the CT schedule; the released code divides by N(k) − 1 (see <see cref="CtScheduleVariant"/>).</summary>
    Adaptive,
}

/// <summary>How the number of discretisation points N evolves (the official <c>--scale_mode</c>, plus iCT).</summary>
public enum ScaleMode
{
    /// <summary>N = start_scales at every step (CD: 40).</summary>
    Fixed,
    /// <summary>N(k) = ceil(sqrt(k/K·((s1+1)² − s0²) + s0²) − 1) + 1 (CT).</summary>
    Progressive,
    /// <summary>Progressive-distillation baseline: N halves every distill_steps_per_iter steps; μ = 1.</summary>
    ProgressiveDistillation,
    /// <summary>
    /// iCT doubling curriculum: N(k) = min(s0·2^⌊k/K'⌋, s1) + 1 with K' = ⌊K / (log2⌊s1/s0⌋ + 1)⌋, and μ = 0
    /// (iCT drops the target EMA: θ⁻ = stopgrad(θ)). Not in the released Consistency Models code; the iCT paper's
    /// settings are s0 = 10, s1 = 1280.
    /// </summary>
    ImprovedCtDoubling,
}

/// <summary>Which μ(k) formula <see cref="TargetEmaMode.Adaptive"/> uses.</summary>
public enum CtScheduleVariant
{
    /// <summary>
    /// The released code (and the JAX code): μ = exp(−c / (N(k) − 1)), c = −log(μ0)·s0 — so at k = 0 μ = μ0² = 0.9025.
    /// The default because it reproduces the training dynamics behind the released CT checkpoints.
    /// </summary>
    ReleasedCode,
    /// <summary>The paper's formula μ(k) = exp(s0·log μ0 / N(k)) — at k = 0 μ = μ0 = 0.95.</summary>
    Paper,
}

/// <summary>The arguments of create_ema_and_scales_fn; K = <paramref name="TotalSteps"/>, s0/s1 = start/end scales.</summary>
public sealed record EmaAndScalesConfig(
    TargetEmaMode TargetEmaMode,
    double StartEma,
    ScaleMode ScaleMode,
    int StartScales,
    int EndScales,
    long TotalSteps,
    long DistillStepsPerIter = 50_000,
    CtScheduleVariant Variant = CtScheduleVariant.ReleasedCode)
{
    /// <summary>CD as released (launch.sh): μ = 0.95, N = 40.</summary>
    public static EmaAndScalesConfig ConsistencyDistillation(long totalSteps = 600_000) =>
        new(TargetEmaMode.Fixed, 0.95, ScaleMode.Fixed, 40, 40, totalSteps);

    /// <summary>CT ImageNet-64 as released: adaptive μ0 = 0.95, N progressive 2 → 200 over 800k steps.</summary>
    public static EmaAndScalesConfig ConsistencyTrainingImageNet64 { get; } =
        new(TargetEmaMode.Adaptive, 0.95, ScaleMode.Progressive, 2, 200, 800_000);

    /// <summary>CT LSUN-256 as released: adaptive μ0 = 0.95, N progressive 2 → 150 over 1M steps.</summary>
    public static EmaAndScalesConfig ConsistencyTrainingLsun256 { get; } =
        new(TargetEmaMode.Adaptive, 0.95, ScaleMode.Progressive, 2, 150, 1_000_000);

    /// <summary>iCT's curriculum (s0 = 10, s1 = 1280, μ = 0).</summary>
    public static EmaAndScalesConfig ImprovedConsistencyTraining(long totalSteps) =>
        new(TargetEmaMode.Fixed, 0.0, ScaleMode.ImprovedCtDoubling, 10, 1280, totalSteps);
}

public static class EmaAndScales
{
    /// <summary>
    /// (μ, N) at <paramref name="globalStep"/>. Mirrors Python's arithmetic: float64 for the sqrt/exp, the np.int32
    /// cast after ceil, integer floor-division where Python has ints, float floor-division where numpy has floats.
    /// </summary>
    public static (double TargetEma, int Scales) At(EmaAndScalesConfig config, long globalStep)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(globalStep);
        var c = config;
        return (c.TargetEmaMode, c.ScaleMode) switch
        {
            (TargetEmaMode.Fixed, ScaleMode.Fixed) => (c.StartEma, c.StartScales),
            (TargetEmaMode.Fixed, ScaleMode.Progressive) => (c.StartEma, ProgressiveIntervals(c, globalStep) + 1),
            (TargetEmaMode.Adaptive, ScaleMode.Progressive) => AdaptiveProgressive(c, globalStep),
            (TargetEmaMode.Fixed, ScaleMode.ProgressiveDistillation) => (1.0, ProgressiveDistillationScales(c, globalStep)),
            (TargetEmaMode.Fixed, ScaleMode.ImprovedCtDoubling) => (0.0, ImprovedCtScales(c, globalStep)),
            _ => throw new NotSupportedException(
                $"target_ema_mode {c.TargetEmaMode} with scale_mode {c.ScaleMode} is not a combination the official code supports"),
        };
    }

    /// <summary>N(k) − 1 = max(ceil(sqrt(k/K·((s1+1)² − s0²) + s0²) − 1), 1): the number of intervals, before the +1.</summary>
    private static int ProgressiveIntervals(EmaAndScalesConfig c, long step)
    {
        long s0 = c.StartScales, s1 = c.EndScales;
        // Python: `step / total_steps * ((end+1)**2 - start**2) + start**2` — true division, then int operands promoted.
        double radicand = (double)step / c.TotalSteps * (double)((s1 + 1) * (s1 + 1) - s0 * s0) + (double)(s0 * s0);
        int intervals = checked((int)Math.Ceiling(Math.Sqrt(radicand) - 1)); // .astype(np.int32)
        return Math.Max(intervals, 1);
    }

    private static (double, int) AdaptiveProgressive(EmaAndScalesConfig c, long step)
    {
        int intervals = ProgressiveIntervals(c, step);
        int scales = intervals + 1;
        double rate = -Math.Log(c.StartEma) * c.StartScales;
        // The released code divides by N(k) − 1 (the scales value before its +1); the paper by N(k).
        int divisor = c.Variant == CtScheduleVariant.Paper ? scales : intervals;
        return (Math.Exp(-rate / divisor), scales);
    }

    private static int ProgressiveDistillationScales(EmaAndScalesConfig c, long step)
    {
        long stage = step / c.DistillStepsPerIter;                        // python int //
        long scales = stage >= 63 ? 0 : c.StartScales / (1L << (int)stage); // start_scales // 2**stage (Python ints never overflow)
        scales = Math.Max(scales, 2);
        // numpy float64 from here: np.log2 makes sub_stage a float, so // is a float floor-division.
        double subStage = Math.Max(step - c.DistillStepsPerIter * (Math.Log2(c.StartScales) - 1), 0);
        subStage = Math.Floor(subStage / (c.DistillStepsPerIter * 2.0));
        double subScales = Math.Max(Math.Floor(2 / Math.Pow(2, subStage)), 1);
        return scales == 2 ? (int)subScales : (int)scales;
    }

    private static int ImprovedCtScales(EmaAndScalesConfig c, long step)
    {
        long s0 = c.StartScales, s1 = c.EndScales;
        if (s0 < 1 || s1 < s0) throw new ArgumentException($"iCT needs 1 ≤ start_scales ≤ end_scales (got {s0}, {s1})");
        long stagesLength = (long)Math.Floor(c.TotalSteps / (Math.Log2(Math.Floor((double)s1 / s0)) + 1)); // K'
        long doublings = step / Math.Max(stagesLength, 1);
        // s0·2^⌊k/K'⌋ ≥ 2^32 > s1 once doublings ≥ 32, so saturating there avoids the shift overflowing.
        long n = doublings >= 32 ? s1 : Math.Min(s0 << (int)doublings, s1);
        return checked((int)n + 1);
    }
}
