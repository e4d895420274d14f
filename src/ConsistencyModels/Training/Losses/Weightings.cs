// Loss weightings λ(σ) — port of cm/karras_diffusion.py::get_weightings (reference §4.3), snr = σ⁻².
using static TorchSharp.torch;

namespace ConsistencyModels.Training;

/// <summary>Upstream <c>weight_schedule</c> ("snr", "snr+1", "karras", "truncated-snr", "uniform") and one more. <see cref="ImprovedCt"/> is iCT's λ(σᵢ) = 1/(σᵢ₊₁ − σᵢ) (Song &amp; Dhariwal 2023, §3.3):
/// it needs the pair of levels, so only the consistency loss offers it.</summary>
public enum WeightSchedule { Snr, SnrPlus1, Karras, TruncatedSnr, Uniform, ImprovedCt }

public static class Weightings
{
    /// <summary>get_weightings(schedule, snrs, sigma_data): a new float tensor shaped like <paramref name="snrs"/>.</summary>
    public static Tensor Get(WeightSchedule schedule, Tensor snrs, double sigmaData) => schedule switch
    {
        WeightSchedule.Snr => snrs.clone(),
        WeightSchedule.SnrPlus1 => snrs + 1,
        WeightSchedule.Karras => snrs + 1.0 / (sigmaData * sigmaData),
        WeightSchedule.TruncatedSnr => snrs.clamp_min(1.0),
        WeightSchedule.Uniform => ones_like(snrs),
        WeightSchedule.ImprovedCt => throw new ArgumentException("the iCT weighting needs both noise levels of a pair: only ConsistencyLoss offers it", nameof(schedule)),
        _ => throw new ArgumentOutOfRangeException(nameof(schedule), schedule, null),
    };

    /// <summary>get_snr(sigma) = sigma**-2 (float32, same kernel as upstream).</summary>
    public static Tensor Snr(Tensor sigma) => sigma.pow(-2);
}
