// Moving a model (.to(dtype/device)) must leave every module usable: TorchSharp disposes the parameters it replaces,
// so a module that cached one in a field would fail (this is what `--device cuda` does to a loaded model).
using ConsistencyModels.Nn;
using ConsistencyModels.Presets;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace ConsistencyModels.Tests.Nn;

public class ModuleMoveTests
{
    [Fact]
    public void GroupNormUsesItsParametersAfterConversion()
    {
        using var norm = new GroupNorm32(64);
        using (no_grad()) { norm.Weight.fill_(2.0); norm.Bias.fill_(0.5); }
        norm.to(ScalarType.Float64);
        Assert.Equal(ScalarType.Float64, norm.Weight.dtype);
        using var x = randn(2, 64, 4, 4, dtype: ScalarType.Float64);
        using var y = norm.call(x);
        using var expected = nn.functional.group_norm(x, 32, norm.Weight, norm.Bias, 1e-5);
        Assert.Equal(ScalarType.Float64, y.dtype);
        Assert.True(y.allclose(expected));
        Assert.Equal(0.5, y.mean().item<double>(), 6);
    }

    [Fact]
    public void UNetRunsAfterItsParametersWereReplaced()
    {
        // A round trip through float64 replaces (and disposes) every parameter twice, as a device move does.
        var config = CheckpointPresets.ImageNet64(DenoiserKind.Consistency) with { NumChannels = 32, NumHeadChannels = 16 };
        using var model = new UNetModel(config);
        model.eval();
        using var _ = inference_mode();
        using var x = randn(2, 3, 64, 64);
        using var t = full(2, 10f);
        using var labels = tensor(new long[] { 3, 7 });
        using var before = model.call(x, t, labels);
        model.to(ScalarType.Float64).to(ScalarType.Float32);
        using var after = model.call(x, t, labels);
        Assert.True(after.allclose(before, rtol: 0, atol: 0));
    }
}
