// Loss weightings λ(σ) — port of cm/karras_diffusion.py::get_weightings (reference §4.3), snr = σ⁻².
using static TorchSharp.torch;

namespace ConsistencyModels.Training;

/// <summary>Upstream <c>weight_schedule</c>: "snr", "snr+1", "karras", "truncated-snr", "uniform".</summary>
public enum WeightSchedule { Snr, SnrPlus1, Karras, TruncatedSnr, Uniform }

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
        _ => throw new ArgumentOutOfRangeException(nameof(schedule), schedule, null),
    };

    /// <summary>get_snr(sigma) = sigma**-2 (float32, same kernel as upstream).</summary>
    public static Tensor Snr(Tensor sigma) => sigma.pow(-2);
}
