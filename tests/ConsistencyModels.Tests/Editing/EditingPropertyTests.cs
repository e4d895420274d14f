// Properties that hold exactly (or to fp32 rounding) for every edit: A⁻¹A = I, the known part survives every step,
// interpolation endpoints are the one-step samples of the two latents.
using ConsistencyModels.Diffusion;
using ConsistencyModels.Editing;
using ConsistencyModels.Sampling;
using Xunit;
using static TorchSharp.torch;

namespace ConsistencyModels.Tests.Editing;

[Collection(GlobalRngCollection.Name)]
public class EditingPropertyTests
{
    // A stand-in consistency function: smooth, input-dependent, within [-1, 1] after the loop's clamp.
    private static readonly Denoiser Toy = (x, sigma) => (x / (1 + sigma.reshape(-1, 1, 1, 1))).tanh();

    public static TheoryData<string, int, int> Operators => new()
    {
        { "colorize", 3, 16 }, { "superres2", 1, 16 }, { "superres4", 3, 16 }, { "superres8", 3, 64 }, { "inpaint", 3, 16 },
    };

    private static EditOperator Make(string name, int channels, int size)
    {
        if (name == "colorize") return new Colorization();
        if (name.StartsWith("superres")) return new SuperResolution(int.Parse(name["superres".Length..]), channels, size);
        var known = ones(1, 1, size, size);
        known[TensorIndex.Colon, TensorIndex.Colon, TensorIndex.Slice(4, 10), TensorIndex.Slice(2, 12)] = tensor(0f);
        return new Inpainting(known);
    }

    [Theory]
    [MemberData(nameof(Operators))]
    public void InverseUndoesForward(string name, int channels, int size)
    {
        using var scope = NewDisposeScope();
        using var op = Make(name, channels, size);
        manual_seed(1);
        var x = randn(2, channels, size, size);
        var back = op.Inverse(op.Forward(x));
        Assert.True((back - x).abs().max().item<float>() < 2e-6, $"{name}: max |A⁻¹Ax − x| = {(back - x).abs().max().item<float>()}");
    }

    [Theory]
    [MemberData(nameof(Operators))]
    public void KnownPartOfTheReferenceSurvivesEveryStep(string name, int channels, int size)
    {
        using var scope = NewDisposeScope();
        using var op = Make(name, channels, size);
        manual_seed(2);
        var reference = rand(2, channels, size, size) * 2 - 1;
        var known = op.Known;
        var expected = op.Forward(reference) * known;
        var rng = SampleGenerators.Create(GeneratorKind.Determ, 2, 7);
        var o = new MultistepOptions([0, 10, 20, 39], 40);
        var x = ZeroShotEditor.Start(op, reference, rng, o);
        int steps = 0;
        ZeroShotEditor.Run(Toy, x, reference, op, rng, o, step =>
        {
            steps++;
            var kept = op.Forward(step.Denoised) * known;
            float err = (kept - expected).abs().max().item<float>();
            if (name == "inpaint") Assert.Equal(0f, err);           // A = I: bit-exact
            else Assert.True(err < 5e-6, $"{name} step {steps}: known latent moved by {err}");
        });
        Assert.Equal(3, steps);
    }

    [Fact]
    public void SuperResolutionDegradeIsThePatchMean()
    {
        using var scope = NewDisposeScope();
        using var op = new SuperResolution(4, 1, 8);
        var x = arange(64, dtype: ScalarType.Float32).reshape(1, 1, 8, 8);
        var low = op.Degrade(x);
        // Top-left 4x4 patch: 8r + c for r, c in 0..3 → mean 13.5.
        Assert.Equal(13.5f, low[0, 0, 0, 0].item<float>());
        Assert.Equal(13.5f, low[0, 0, 3, 3].item<float>());
        Close(op.Replace(x, zeros_like(x)), low, 1e-4);
    }

    [Fact]
    public void ColorizationBasisIsTheOfficialOne()
    {
        using var op = new Colorization();
        float[] expected = [0.447113f, -0.820425f, 0.356359f, 0.878072f, 0.478529f, 0f, 0.170528f, -0.312909f, -0.934349f];
        var q = op.Q.data<float>().ToArray();
        for (int i = 0; i < 9; i++) Assert.True(Math.Abs(q[i] - expected[i]) < 2e-6, $"Q[{i / 3},{i % 3}] = {q[i]}, reference {expected[i]}");
    }

    [Fact]
    public void InterpolationEndpointsAreTheOneStepSamplesOfTheLatents()
    {
        using var scope = NewDisposeScope();
        manual_seed(3);
        var z1 = randn(2, 1, 8, 8);
        var z2 = randn(2, 1, 8, 8);
        var frames = Interpolation.Interpolate(Toy, z1, z2, 5);
        var t = full(2, 80f);
        Assert.Equal(new long[] { 5, 2, 1, 8, 8 }, frames.shape);
        Assert.Equal(0f, (frames[0] - Toy(z1 * 80.0, t)).abs().max().item<float>());     // α = 0: f(z₁·T, T), bit for bit
        Assert.Equal(0f, (frames[4] - Toy(z2 * 80.0, t)).abs().max().item<float>());     // α = 1: f(z₂·T, T)
        // Slerp keeps the norm of orthogonal unit-ish latents roughly constant midway (no linear-interpolation shrinkage).
        var mid = Interpolation.Slerp(z1, z2, 0.5);
        double ratio = mid.norm().item<float>() / z1.norm().item<float>();
        Assert.InRange(ratio, 0.8, 1.25);
    }

    [Fact]
    public void BadShapesAreRefused()
    {
        Assert.Contains("not a multiple", Assert.Throws<ArgumentException>(() => new SuperResolution(5, 3, 64)).Message);
        Assert.Contains("at least 2", Assert.Throws<ArgumentException>(() => new SuperResolution(1, 3, 64)).Message);
        Assert.Throws<ArgumentException>(() => Interpolation.Interpolate(Toy, zeros(1, 1, 4, 4), zeros(1, 1, 4, 4), 1));
        Assert.Throws<ArgumentException>(() => Denoising.Denoise(Toy, zeros(1, 1, 4, 4), 0));
    }

    private static void Close(Tensor a, Tensor b, double tol) => Assert.True((a - b).abs().max().item<float>() < tol);
}
