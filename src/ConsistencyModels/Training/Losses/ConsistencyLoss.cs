// Consistency training / distillation loss — port of cm/karras_diffusion.py::KarrasDenoiser.consistency_losses (:106-239).
using ConsistencyModels.Diffusion;
using ConsistencyModels.Metrics;
using static TorchSharp.torch;

namespace ConsistencyModels.Training;

/// <summary>
/// The consistency loss of one batch: CT (no teacher: the Euler step uses x₀ as the denoiser) or CD (one Heun step of
/// an EDM teacher, two teacher evaluations). The loss never sees a network: it takes denoisers D(x, σ) — the online
/// one with autograd, the target (EMA) and teacher ones evaluated here under no_grad.
/// </summary>
public sealed record ConsistencyLoss(
    LossNorm Norm = LossNorm.Lpips,
    WeightSchedule WeightSchedule = WeightSchedule.Uniform,
    IImageDistance? Perceptual = null,
    double SigmaMin = 0.002,
    double SigmaMax = 80.0,
    double Rho = 7.0,
    double SigmaData = 0.5)
{
    /// <summary>
    /// The pair (t, t2) of noise levels for grid indices n ∈ {0..N−2}: t = σ(n) (larger), t2 = σ(n+1), float32, computed
    /// like upstream: <c>(smax^(1/ρ) + n/(N−1)·(smin^(1/ρ) − smax^(1/ρ)))^ρ</c> with n an int64 tensor.
    /// </summary>
    public (Tensor t, Tensor t2) Sigmas(Tensor indices, int numScales)
    {
        if (numScales < 2) throw new ArgumentOutOfRangeException(nameof(numScales), numScales, "num_scales must be at least 2");
        using var scope = NewDisposeScope();
        double maxInvRho = Math.Pow(SigmaMax, 1 / Rho);
        double span = Math.Pow(SigmaMin, 1 / Rho) - maxInvRho;
        Tensor Level(Tensor n) => ((n / (long)(numScales - 1)) * span + maxInvRho).pow(Rho);
        var t = Level(indices);
        var t2 = Level(indices + 1);
        return (t.MoveToOuterDisposeScope(), t2.MoveToOuterDisposeScope());
    }

    /// <summary>
    /// consistency_losses(...)["loss"]: the weighted per-sample loss [B]. <paramref name="indices"/> [B] int64 are the
    /// grid indices upstream draws with <c>th.randint(0, N−1, (B,))</c>; <paramref name="teacher"/> null means CT.
    /// Backpropagate through the result (e.g. its mean) to get the online network's gradients.
    /// </summary>
    public Tensor Compute(Tensor xStart, Tensor noise, Tensor indices, int numScales,
                          Denoiser online, Denoiser target, Denoiser? teacher = null)
    {
        if (Norm == LossNorm.Lpips && Perceptual is null)
            throw new InvalidOperationException("LossNorm.Lpips needs a perceptual distance (Perceptual)");
        using var scope = NewDisposeScope();
        long dims = xStart.dim();
        var (t, t2) = Sigmas(indices.to(xStart.device), numScales);
        var tD = KarrasDenoiser.AppendDims(t, dims);
        var t2D = KarrasDenoiser.AppendDims(t2, dims);

        var xT = xStart + noise * tD;

        // Upstream saves the CPU RNG state so that the target's dropout masks repeat the online ones.
        var dropoutState = TorchSharp.torch.random.get_rng_state();
        var distiller = online(xT, t);

        Tensor xT2;
        using (no_grad())
        {
            xT2 = teacher is null ? EulerStep(xT, tD, t2D, xStart) : HeunStep(teacher, xT, t, t2, tD, t2D);
            xT2 = xT2.detach();
        }

        TorchSharp.torch.random.set_rng_state(dropoutState);
        Tensor distillerTarget;
        using (no_grad())
            distillerTarget = target(xT2, t2).detach();

        var weights = WeightSchedule == WeightSchedule.ImprovedCt ? (t - t2).reciprocal()
            : Weightings.Get(WeightSchedule, Weightings.Snr(t), SigmaData);
        var loss = LossNorms.Distance(Norm, distiller, distillerTarget, Perceptual) * weights;
        return loss.MoveToOuterDisposeScope();
    }

    // euler_solver without a teacher: denoiser = x0.
    private static Tensor EulerStep(Tensor x, Tensor tD, Tensor t2D, Tensor x0)
    {
        var d = (x - x0) / tD;
        return x + d * (t2D - tD);
    }

    // heun_solver with the teacher: two teacher evaluations.
    private static Tensor HeunStep(Denoiser teacher, Tensor x, Tensor t, Tensor t2, Tensor tD, Tensor t2D)
    {
        var denoiser = teacher(x, t);
        var d = (x - denoiser) / tD;
        var samples = x + d * (t2D - tD);
        denoiser = teacher(samples, t2);
        var nextD = (samples - denoiser) / t2D;
        return x + (d + nextD) * ((t2D - tD) / 2);
    }
}
