// The editing loop against the official iterative_colorization / iterative_superres / iterative_inpainting, replaying
// their recorded noise (fixture editing_imagenet64.pt; noise.000 is the caller's x_init draw, the rest the function's).
using ConsistencyModels.Diffusion;
using ConsistencyModels.Editing;
using ConsistencyModels.Nn;
using ConsistencyModels.Sampling;
using ConsistencyModels.Tests.Parity;
using Xunit;
using static TorchSharp.torch;

namespace ConsistencyModels.Tests.Editing;

public class EditingParityTests
{
    private static readonly int[] Ts = [0, 8, 16, 24, 32, 39];

    [SkippableTheory]
    [InlineData("colorization")]
    [InlineData("superres")]
    [InlineData("inpainting")]
    public void EditMatchesOfficial(string prefix)
    {
        var f = Fixture.Open("editing_imagenet64.pt");
        var model = FixtureModels.Get("imagenet64", DenoiserKind.Consistency);
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        bool inpaint = prefix == "inpainting";
        var reference = f[inpaint ? "ref14" : "ref2"];
        var y = f[inpaint ? "y14" : "y2"];
        using EditOperator op = prefix switch
        {
            "colorization" => new Colorization(),
            "superres" => new SuperResolution(8, 3, 64),
            _ => new Inpainting(f["inpainting.mask"]),
        };

        var pre = KarrasDenoiser.FromConfig(model.Config);
        var sigmas = new List<Tensor>();
        var denoised = new List<Tensor>();
        Denoiser distiller = (x, sigma) =>
        {
            var (_, d) = pre.Denoise((xi, t, yy) => model.call(xi, t, yy), x, sigma, y);
            sigmas.Add(sigma.clone().DetachFromDisposeScope());
            denoised.Add(d.clone().DetachFromDisposeScope());
            return d;                                  // unclamped, as the fixture's distiller: the loop clamps
        };
        var draws = new List<Tensor>();
        for (int i = 1; f.Has($"{prefix}.noise.{i:D3}"); i++) draws.Add(f[$"{prefix}.noise.{i:D3}"]);
        var rng = new ReplayGenerator(draws);

        var (edited, images) = ZeroShotEditor.Run(distiller, f[$"{prefix}.x_init"], reference, op, rng, new MultistepOptions(Ts, 40));

        Assert.Equal(draws.Count, rng.Used);                                       // a draw after every evaluation, the last one too
        Close.Assert(f[$"{prefix}.trace.sigma"], stack(sigmas), 0, 1e-6, $"{prefix} sigmas");
        if (f.Has($"{prefix}.trace.denoised"))
            for (int i = 0; i < denoised.Count; i++)
                Close.Assert(f[$"{prefix}.trace.denoised"][i], denoised[i], 1e-4, 1e-5, $"{prefix} evaluation {i}");
        Close.Assert(f[$"{prefix}.images_out"], images, 1e-6, 1e-6, $"{prefix} degraded reference");
        Close.Assert(f[$"{prefix}.x_out"], edited, 1e-4, 1e-5, $"{prefix} output");
    }
}
