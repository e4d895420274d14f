// EDM denoising objective of the teachers — port of cm/karras_diffusion.py::KarrasDenoiser.training_losses (reference §4.4).
using ConsistencyModels.Diffusion;
using static TorchSharp.torch;

namespace ConsistencyModels.Training;

/// <summary>
/// loss = mean_flat(λ(σ)·(D(x₀ + σ·n, σ) − x₀)²) with σ = exp(P_mean + P_std·ε) (LogNormalSampler, −1.2 / 1.2) and
/// λ the "karras" weighting (snr + 1/σ_data²).
/// </summary>
public sealed record EdmLoss(double PMean = -1.2, double PStd = 1.2, WeightSchedule WeightSchedule = WeightSchedule.Karras, double SigmaData = 0.5)
{
    /// <summary>σ for a batch from standard normal draws <paramref name="normal"/> [B].</summary>
    public Tensor Sigmas(Tensor normal) => (normal * PStd + PMean).exp();

    /// <summary>The per-sample loss [B]; <paramref name="online"/> must keep autograd.</summary>
    public Tensor Compute(Tensor xStart, Tensor noise, Tensor sigmas, Denoiser online)
    {
        using var scope = NewDisposeScope();
        var xT = xStart + noise * KarrasDenoiser.AppendDims(sigmas, xStart.dim());
        var denoised = online(xT, sigmas);
        var weights = KarrasDenoiser.AppendDims(Weightings.Get(WeightSchedule, Weightings.Snr(sigmas), SigmaData), xStart.dim());
        return LossNorms.MeanFlat(weights * (denoised - xStart).pow(2)).MoveToOuterDisposeScope();
    }
}
