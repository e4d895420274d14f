// Karras et al. (2022) noise levels — port of cm/karras_diffusion.py::get_sigmas_karras (float32 arithmetic, trailing 0).
using static TorchSharp.torch;

namespace ConsistencyModels.Diffusion;

public static class KarrasSchedule
{
    /// <summary>
    /// n noise levels from σ_max down to σ_min plus an appended 0 (n+1 values), float32 exactly as upstream:
    /// σ_0 is 79.999985, not 80, because the ramp is computed in float32.
    /// </summary>
    public static Tensor GetSigmasKarras(int n, double sigmaMin = 0.002, double sigmaMax = 80.0, double rho = 7.0, Device? device = null)
    {
        if (n < 1) throw new ArgumentOutOfRangeException(nameof(n), $"need at least one noise level (got {n})");
        using var scope = NewDisposeScope();
        var ramp = linspace(0, 1, n, dtype: ScalarType.Float32);
        double minInvRho = Math.Pow(sigmaMin, 1 / rho), maxInvRho = Math.Pow(sigmaMax, 1 / rho);
        var sigmas = (ramp * (minInvRho - maxInvRho) + maxInvRho).pow(rho);
        var withZero = cat([sigmas, zeros(1, dtype: ScalarType.Float32)]);
        return (device is null ? withZero : withZero.to(device)).MoveToOuterDisposeScope();
    }

    /// <summary>σ at grid index i of a <paramref name="steps"/>-point grid, in double precision (the multistep sampler's formula).</summary>
    public static double SigmaAt(double index, int steps, double sigmaMin = 0.002, double sigmaMax = 80.0, double rho = 7.0)
    {
        double tMaxRho = Math.Pow(sigmaMax, 1 / rho), tMinRho = Math.Pow(sigmaMin, 1 / rho);
        return Math.Pow(tMaxRho + index / (steps - 1) * (tMinRho - tMaxRho), rho);
    }
}
