// cm/nn.py::update_ema parity (losses_imagenet64.pt: ema0.999.* and target_ema.*).
using ConsistencyModels.Tests.Parity;
using ConsistencyModels.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace ConsistencyModels.Tests.Training.Optim;

public class EmaTests
{
    private static readonly string[] RecordedParameters = ["out.2.weight", "input_blocks.0.0.weight"];

    [SkippableTheory]
    [InlineData("ema0.999", 0.999)]
    [InlineData("target_ema", 0.9953478282678028)]   // μ at step 10k of the ImageNet-64 CT schedule
    public void MatchesOfficialUpdateEma(string prefix, double rate)
    {
        var f = Fixture.Open("losses_imagenet64.pt");
        // Fixture: update_ema(targets = pre-step weights, source = online weights after one RAdam step, rate).
        var targets = RecordedParameters.Select(n => f[$"radam.before.{n}"].clone()).ToList();
        var sources = RecordedParameters.Select(n => f[$"radam.after.{n}"]).ToList();
        Ema.Update(targets, sources, rate);
        for (int i = 0; i < RecordedParameters.Length; i++)
            Close.Assert(f[$"{prefix}.{RecordedParameters[i]}"], targets[i], 1e-7, 0, $"{prefix}.{RecordedParameters[i]}");
    }

    [Fact]
    public void UpdatesModuleParametersInPlaceByName()
    {
        using var target = nn.Linear(3, 2);
        using var source = nn.Linear(3, 2);
        using var expectedWeight = target.weight!.detach() * 0.9 + source.weight!.detach() * 0.1;
        var weightBefore = target.weight;
        Ema.Update(target, source, 0.9);
        Assert.Same(weightBefore, target.weight);
        Close.Assert(expectedWeight, target.weight!, 1e-7, 0, "weight");
        Assert.True(target.weight!.requires_grad);
    }

    [Fact]
    public void RateOneKeepsTheTargetAndRateZeroCopiesTheSource()
    {
        var target = new List<Tensor> { tensor(new[] { 1f, 2f }) };
        var source = new List<Tensor> { tensor(new[] { 5f, -3f }) };
        Ema.Update(target, source, 1.0);
        Assert.Equal(new[] { 1f, 2f }, target[0].data<float>().ToArray());
        Ema.Update(target, source, 0.0);
        Assert.Equal(new[] { 5f, -3f }, target[0].data<float>().ToArray());
    }
}
