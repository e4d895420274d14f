// EDM / consistency preconditioning around a network — port of cm/karras_diffusion.py::KarrasDenoiser
// (get_scalings, get_scalings_for_boundary_condition, denoise; reference §4.1).
using ConsistencyModels.Nn;
using static TorchSharp.torch;

namespace ConsistencyModels.Diffusion;

/// <summary>Raw network F(c_in·x, c_noise, y) -> output; the UNet, or anything with its signature.</summary>
public delegate Tensor NetworkFunction(Tensor scaledInput, Tensor cNoise, Tensor? classLabels);

public sealed record KarrasDenoiser(DenoiserKind Kind, double SigmaData = 0.5, double SigmaMin = 0.002, double SigmaMax = 80.0, double Rho = 7.0)
{
    public static KarrasDenoiser FromConfig(ModelConfig c) => new(c.Denoiser, c.SigmaData, c.SigmaMin, c.SigmaMax, c.Rho);

    /// <summary>EDM scalings (c_skip, c_out, c_in) in float32, the same op order as upstream.</summary>
    public (Tensor cSkip, Tensor cOut, Tensor cIn) GetScalings(Tensor sigma)
    {
        using var scope = NewDisposeScope();
        double sd2 = SigmaData * SigmaData;
        var denom = sigma.pow(2) + sd2;
        var cSkip = denom.reciprocal() * sd2;                          // python: sd**2 / t  ==  t.reciprocal() * sd**2
        var cOut = sigma * SigmaData / denom.pow(0.5);
        var cIn = denom.pow(0.5).reciprocal();                         // 1 / t
        return (cSkip.MoveToOuterDisposeScope(), cOut.MoveToOuterDisposeScope(), cIn.MoveToOuterDisposeScope());
    }

    /// <summary>Boundary-condition scalings: c_skip(σ_min) = 1, c_out(σ_min) = 0, so D(x, σ_min) = x.</summary>
    public (Tensor cSkip, Tensor cOut, Tensor cIn) GetScalingsForBoundaryCondition(Tensor sigma)
    {
        using var scope = NewDisposeScope();
        double sd2 = SigmaData * SigmaData;
        var shifted = sigma - SigmaMin;
        var cSkip = (shifted.pow(2) + sd2).reciprocal() * sd2;
        var cOut = shifted * SigmaData / (sigma.pow(2) + sd2).pow(0.5);
        var cIn = (sigma.pow(2) + sd2).pow(0.5).reciprocal();
        return (cSkip.MoveToOuterDisposeScope(), cOut.MoveToOuterDisposeScope(), cIn.MoveToOuterDisposeScope());
    }

    public (Tensor cSkip, Tensor cOut, Tensor cIn) Scalings(Tensor sigma) =>
        Kind == DenoiserKind.Consistency ? GetScalingsForBoundaryCondition(sigma) : GetScalings(sigma);

    /// <summary>The network's time input: 1000·0.25·ln(σ + 1e-44) (1e-44 keeps the log finite at σ = 0, as upstream).</summary>
    public static Tensor RescaledT(Tensor sigma)
    {
        using var shifted = sigma + 1e-44;
        using var logged = shifted.log();
        return logged * 250.0;
    }

    /// <summary>denoise(): returns (model_output, denoised) without clamping.</summary>
    public (Tensor modelOutput, Tensor denoised) Denoise(NetworkFunction network, Tensor xT, Tensor sigma, Tensor? classLabels)
    {
        using var scope = NewDisposeScope();
        var (cSkip, cOut, cIn) = Scalings(sigma);
        cSkip = AppendDims(cSkip, xT.dim()); cOut = AppendDims(cOut, xT.dim()); cIn = AppendDims(cIn, xT.dim());
        var modelOutput = network(cIn * xT, RescaledT(sigma), classLabels);
        var denoised = cOut * modelOutput + cSkip * xT;
        return (modelOutput.MoveToOuterDisposeScope(), denoised.MoveToOuterDisposeScope());
    }

    /// <summary>The <see cref="Denoiser"/> the samplers use: denoise(), then clamp to [-1, 1] when <paramref name="clipDenoised"/> (upstream default).</summary>
    public Denoiser AsDenoiser(NetworkFunction network, Tensor? classLabels, bool clipDenoised = true) => (x, sigma) =>
    {
        using var scope = NewDisposeScope();
        var (_, denoised) = Denoise(network, x, sigma, classLabels);
        if (clipDenoised) denoised = denoised.clamp(-1.0, 1.0);
        return denoised.MoveToOuterDisposeScope();
    };

    internal static Tensor AppendDims(Tensor t, long targetDims)
    {
        var r = t;
        for (long i = t.dim(); i < targetDims; i++) r = r.unsqueeze(-1);
        return r;
    }
}
