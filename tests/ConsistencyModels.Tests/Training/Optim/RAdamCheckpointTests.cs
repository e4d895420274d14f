// RAdamCheckpoint: PyTorch's optimizer.state_dict() layout (the official opt{step}.pt), saved and restored exactly.
using ConsistencyModels.IO.Checkpoints;
using ConsistencyModels.Tests.IO.Checkpoints;
using ConsistencyModels.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace ConsistencyModels.Tests.Training.Optim;

public class RAdamCheckpointTests
{
    private static readonly long[][] Shapes = [[2, 3], [4], [], [3, 1, 2]];

    private static List<Tensor> Parameters(int seed)
    {
        var g = new Generator((ulong)seed);
        return Shapes.Select(s => randn(s, generator: g).requires_grad_(true)).ToList();
    }

    /// <summary>Gradients for every parameter except index 2 (a scalar that never gets one, so it has no state).</summary>
    private static void SetGradients(IReadOnlyList<Tensor> parameters, Generator g)
    {
        for (int i = 0; i < parameters.Count; i++)
            parameters[i].grad = i == 2 ? null : randn(parameters[i].shape, generator: g);
    }

    [Fact]
    public void Save_then_load_resumes_bit_identically()
    {
        using var scope = NewDisposeScope();
        var options = new RAdamOptions(1e-2, Beta1: 0.8, Beta2: 0.99, Eps: 1e-6, WeightDecay: 0.01);
        var original = Parameters(3);
        using var opt = new RAdam(original, options);
        var g = new Generator(17);
        for (int step = 0; step < 7; step++) // beyond step 5, into the rectified branch
        {
            SetGradients(original, g);
            opt.Step();
        }

        using var dir = new TempDir();
        var path = dir.File("opt7.pt");
        RAdamCheckpoint.Save(path, opt);

        var copies = original.Select(p => p.detach().clone().requires_grad_(true)).ToList();
        using var resumed = new RAdam(copies, new RAdamOptions(1e-3));
        RAdamCheckpoint.Load(path, resumed);
        Assert.Equal(options, resumed.Options);
        Assert.Null(resumed.State[2]);
        for (int i = 0; i < original.Count; i++)
        {
            if (opt.State[i] is not { } s) continue;
            var r = resumed.State[i]!;
            Assert.Equal(s.Step, r.Step);
            TensorAssert.BitEqual(s.ExpAvg, r.ExpAvg, $"exp_avg {i}");
            TensorAssert.BitEqual(s.ExpAvgSq, r.ExpAvgSq, $"exp_avg_sq {i}");
        }

        // One more step on both with the same gradients: identical parameters and state.
        var g2 = new Generator(99);
        SetGradients(original, g2);
        for (int i = 0; i < copies.Count; i++) copies[i].grad = original[i].grad?.clone();
        opt.Step();
        resumed.Step();
        for (int i = 0; i < original.Count; i++)
        {
            TensorAssert.BitEqual(original[i].detach(), copies[i].detach(), $"param {i}");
            if (opt.State[i] is not { } s) continue;
            Assert.Equal(8, resumed.State[i]!.Step);
            TensorAssert.BitEqual(s.ExpAvg, resumed.State[i]!.ExpAvg, $"exp_avg {i} after");
            TensorAssert.BitEqual(s.ExpAvgSq, resumed.State[i]!.ExpAvgSq, $"exp_avg_sq {i} after");
        }
    }

    [Fact]
    public void File_has_PyTorchs_state_dict_layout()
    {
        using var scope = NewDisposeScope();
        var parameters = Parameters(5);
        using var opt = new RAdam(parameters, new RAdamOptions(1e-4));
        SetGradients(parameters, new Generator(1));
        opt.Step();
        opt.Step();
        using var dir = new TempDir();
        var path = dir.File("opt.pt");
        RAdamCheckpoint.Save(path, opt);

        var root = Assert.IsType<OrderedDictionary<string, object?>>(TorchCheckpoint.ReadGraph(path));
        Assert.Equal(["state", "param_groups"], root.Keys);
        var state = Assert.IsType<OrderedDictionary<string, object?>>(root["state"]);
        Assert.Equal(["0", "1", "3"], state.Keys); // parameter 2 has no gradient, so no state (as in PyTorch)
        foreach (var (key, value) in state)
        {
            var entry = Assert.IsType<OrderedDictionary<string, object?>>(value);
            Assert.Equal(["step", "exp_avg", "exp_avg_sq"], entry.Keys);
            var step = Assert.IsAssignableFrom<Tensor>(entry["step"]);
            Assert.Equal(ScalarType.Float32, step.dtype);
            Assert.Empty(step.shape);
            Assert.Equal(2f, step.item<float>());
            TensorAssert.BitEqual(opt.State[int.Parse(key)]!.ExpAvg, (Tensor)entry["exp_avg"]!, key);
            TensorAssert.BitEqual(opt.State[int.Parse(key)]!.ExpAvgSq, (Tensor)entry["exp_avg_sq"]!, key);
        }
        var group = Assert.IsType<OrderedDictionary<string, object?>>(Assert.Single(Assert.IsType<List<object?>>(root["param_groups"])));
        Assert.Equal(1e-4, group["lr"]);
        Assert.Equal(new object?[] { 0.9, 0.999 }, Assert.IsType<object?[]>(group["betas"]));
        Assert.Equal(1e-8, group["eps"]);
        Assert.Equal(0.0, group["weight_decay"]);
        Assert.Null(group["foreach"]);
        foreach (var flag in new[] { "maximize", "capturable", "differentiable", "decoupled_weight_decay" })
            Assert.Equal(false, group[flag]);
        Assert.Equal(new object?[] { 0L, 1L, 2L, 3L }, Assert.IsType<List<object?>>(group["params"]));
    }

    [Fact]
    public void Loads_PyTorch_1_13_style_state_dicts()
    {
        // What torch 1.13's RAdam(params, lr=1e-4).state_dict() holds: int weight_decay, no 2.x flags.
        using var scope = NewDisposeScope();
        using var dir = new TempDir();
        var path = dir.File("opt_torch113.pt");
        TorchCheckpoint.SaveObject(path, new Dictionary<string, object?>
        {
            ["state"] = new Dictionary<long, object?>
            {
                [1] = new Dictionary<string, object?>
                {
                    ["step"] = tensor(3f), ["exp_avg"] = full(4, 0.5, dtype: ScalarType.Float64), ["exp_avg_sq"] = full(4, 0.25),
                },
            },
            ["param_groups"] = new List<object?>
            {
                new Dictionary<string, object?>
                {
                    ["lr"] = 1e-4, ["betas"] = new PickleTuple(0.9, 0.999), ["eps"] = 1e-8, ["weight_decay"] = 0L, ["foreach"] = null,
                    ["params"] = new List<object?> { 0L, 1L, 2L, 3L },
                },
            },
        });
        var parameters = Parameters(1);
        using var opt = new RAdam(parameters, new RAdamOptions(0.5, WeightDecay: 0.1));
        RAdamCheckpoint.Load(path, opt);
        Assert.Equal(new RAdamOptions(1e-4), opt.Options);
        Assert.Null(opt.State[0]);
        var s = opt.State[1]!;
        Assert.Equal(3, s.Step);
        Assert.Equal(ScalarType.Float32, s.ExpAvg.dtype); // cast to the parameter's dtype, as load_state_dict does
        Assert.Equal(new[] { 0.5f, 0.5f, 0.5f, 0.5f }, s.ExpAvg.data<float>().ToArray());
        Assert.Equal(new[] { 0.25f, 0.25f, 0.25f, 0.25f }, s.ExpAvgSq.data<float>().ToArray());
    }

    [Fact]
    public void State_survives_the_callers_dispose_scope()
    {
        using var dir = new TempDir();
        var path = dir.File("opt.pt");
        var parameters = Parameters(2);
        using var source = new RAdam(parameters, new RAdamOptions(1e-3));
        SetGradients(parameters, new Generator(4));
        source.Step();
        RAdamCheckpoint.Save(path, source);

        using var target = new RAdam(parameters.Select(p => p.detach().clone()).ToList(), new RAdamOptions(1e-3));
        using (NewDisposeScope()) RAdamCheckpoint.Load(path, target);
        TensorAssert.BitEqual(source.State[0]!.ExpAvg, target.State[0]!.ExpAvg);
    }

    [Fact]
    public void Mismatches_are_reported_with_the_parameter_and_shapes()
    {
        using var scope = NewDisposeScope();
        using var dir = new TempDir();
        var path = dir.File("opt.pt");
        var parameters = Parameters(4);
        using var source = new RAdam(parameters, new RAdamOptions(1e-3));
        SetGradients(parameters, new Generator(6));
        source.Step();
        RAdamCheckpoint.Save(path, source);

        using var fewer = new RAdam(parameters.Take(3).Select(p => p.detach().clone()).ToList(), new RAdamOptions(1e-3));
        var e = Assert.Throws<CheckpointFormatException>(() => RAdamCheckpoint.Load(path, fewer));
        Assert.Contains("4 parameters but the optimizer has 3", e.Message);

        var reshaped = parameters.Select(p => p.detach().clone()).ToList();
        reshaped[1] = zeros(5);
        using var wrongShape = new RAdam(reshaped, new RAdamOptions(0.123));
        e = Assert.Throws<CheckpointFormatException>(() => RAdamCheckpoint.Load(path, wrongShape));
        Assert.Contains("parameter 1", e.Message);
        Assert.Contains("[4]", e.Message);
        Assert.Contains("[5]", e.Message);
        Assert.Equal(0.123, wrongShape.Options.LearningRate); // nothing changed
        Assert.All(wrongShape.State, Assert.Null);

        // Parameter 2 never had state in the file; here it has some: refuse rather than keep a stale moment.
        var copies = parameters.Select(p => p.detach().clone()).ToList();
        using var used = new RAdam(copies, new RAdamOptions(1e-3));
        used.LoadState(2, 5, zeros_like(copies[2]), zeros_like(copies[2]));
        Assert.Throws<InvalidOperationException>(() => RAdamCheckpoint.Load(path, used));

        var notOptimizer = dir.File("weights.pt");
        TorchCheckpoint.Save(notOptimizer, [new("w", zeros(2))]);
        e = Assert.Throws<CheckpointFormatException>(() => RAdamCheckpoint.Load(notOptimizer, used));
        Assert.Contains("not an optimizer state dict", e.Message);
    }
}
