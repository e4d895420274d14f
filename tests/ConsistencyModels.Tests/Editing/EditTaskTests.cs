// What the library says about each edit task (the CLI and the studio only ask), and editing as the multistep sampler.
using ConsistencyModels.Diffusion;
using ConsistencyModels.Editing;
using ConsistencyModels.Nn;
using ConsistencyModels.Pipelines;
using ConsistencyModels.Sampling;
using Xunit;
using static TorchSharp.torch;

namespace ConsistencyModels.Tests.Editing;

public class EditTaskTests
{
    [Fact]
    public void OnlyColorizationNeedsRgbAndTheRefusalNamesTheModel()
    {
        Assert.Equal([EditTask.Colorize], Enum.GetValues<EditTask>().Where(t => t.RequiresRgb));
        var gray = new ModelConfig { InChannels = 1, OutChannels = 1 };
        var e = Assert.Throws<ArgumentException>(() => EditTask.Colorize.CheckModel(gray, "cd_fmnist32"));
        Assert.Equal("colorize needs an RGB model; cd_fmnist32 has 1 channel", e.Message);
        EditTask.SuperRes.CheckModel(gray);
        EditTask.Colorize.CheckModel(new ModelConfig());
        Assert.Equal("superres", EditTask.SuperRes.Name);
        Assert.Equal([EditTask.Interpolate], Enum.GetValues<EditTask>().Where(t => !t.TakesImages));
        Assert.Equal([EditTask.Inpaint], Enum.GetValues<EditTask>().Where(t => t.TakesMask));
    }

    // The evaluation count the CLI's progress bar and the studio's job total use is the number of evaluations made.
    [Theory]
    [InlineData(EditTask.Inpaint, 3)]
    [InlineData(EditTask.SuperRes, 3)]
    [InlineData(EditTask.Stroke, 2)]
    [InlineData(EditTask.Denoise, 1)]
    [InlineData(EditTask.Interpolate, 4)]
    public void EvaluationsAreTheEvaluationsMade(EditTask task, int expected)
    {
        using var pipeline = ConsistencyPipeline.LoadBuiltIn();
        using var scope = NewDisposeScope();
        using var g = new Generator(1);
        var request = new EditRequest
        {
            Task = task, Images = task.TakesImages ? rand([2, 1, 32, 32], generator: g) * 2 - 1 : null, ClassLabels = [3],
            Ts = task == EditTask.Stroke ? [20, 30, 39] : [0, 13, 26, 39], Frames = 4, Pairs = 2,
        };
        int calls = 0, last = 0;
        var result = ImageEditor.Edit(pipeline, request, step => { calls++; last = step.Evaluation; Assert.Equal(expected, step.TotalEvaluations); });
        Assert.Equal(expected, request.Evaluations);
        Assert.Equal((expected, expected), (calls, last));
        Assert.Equal(task == EditTask.Interpolate ? 8 : 2, result.Edited.Count);
        Assert.Equal(task == EditTask.Interpolate ? 8 : 6, result.Grid().Count);
        Assert.All(result.Edited.Labels!, l => Assert.Equal(3L, l));
    }

    // With nothing known (A = I, known = 0) the projection is the identity on [−1, 1]: the edit is multistep sampling.
    [Fact]
    public void EditingWithNothingKnownIsMultistepSampling()
    {
        using var scope = NewDisposeScope();
        Denoiser toy = (x, sigma) => (x / (1 + sigma.reshape(-1, 1, 1, 1))).tanh();
        var options = new MultistepOptions([0, 10, 20, 39], 40);
        using var g = new Generator(5);
        var start = randn([2, 3, 8, 8], generator: g) * 80.0;
        var reference = zeros(2, 3, 8, 8);
        using var op = new StrokeGuided();
        using var editRng = SampleGenerators.Create(GeneratorKind.DetermIndiv, 2, 9);
        using var sampleRng = SampleGenerators.Create(GeneratorKind.DetermIndiv, 2, 9);
        var (edited, _) = ZeroShotEditor.Run(toy, start, reference, op, editRng, options);
        var sampled = MultistepSampler.Sample(toy, start, sampleRng, options);
        Assert.Equal(sampled.data<float>().ToArray(), edited.data<float>().ToArray());
    }
}
