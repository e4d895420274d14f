// Kernel options are fixed per model and reach every block that reads them; defaults are the library's paths.
using ConsistencyModels.Nn;
using ConsistencyModels.Presets;
using Xunit;
using static TorchSharp.torch;

namespace ConsistencyModels.Tests.Nn;

public class KernelOptionsTests
{
    [Fact]
    public void DefaultsAreEveryPathOnWithStatisticsGroupNormForChannelsLastOnAGpu()
    {
        Assert.Equal(new KernelOptions(ReducedPrecisionGroupNorm: true, FusedScaleShift: true, StatisticsGroupNorm.ChannelsLastOffCpu), KernelOptions.Default);
        using var model = new UNetModel(CheckpointPresets.ImageNet64(DenoiserKind.Consistency), META);
        Assert.Same(KernelOptions.Default, model.Kernels);
    }

    [Fact]
    public void EveryNormAndResBlockOfAModelTakesItsOptions()
    {
        var kernels = new KernelOptions(ReducedPrecisionGroupNorm: false, FusedScaleShift: false, StatisticsGroupNorm.Always);
        using var model = new UNetModel(CheckpointPresets.ImageNet64(DenoiserKind.Consistency), META, kernels);
        var modules = model.modules().ToList();
        var norms = modules.OfType<GroupNorm32>().ToList();
        var blocks = modules.OfType<ResBlock>().ToList();
        Assert.NotEmpty(norms);
        Assert.NotEmpty(blocks);
        Assert.All(norms, n => Assert.Same(kernels, n.Kernels));
        Assert.All(blocks, b => Assert.Same(kernels, b.Kernels));
    }
}
