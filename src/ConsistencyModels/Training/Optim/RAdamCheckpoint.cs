// The optimiser half of the official checkpoints: opt{step}.pt is torch.save(opt.state_dict()) of torch.optim.RAdam
// (cm/train_util.py save()), read back on resume with opt.load_state_dict(torch.load(path)).
using System.Globalization;
using System.Numerics;
using ConsistencyModels.IO.Checkpoints;
using static TorchSharp.torch;

namespace ConsistencyModels.Training;

/// <summary>
/// Reads and writes <see cref="RAdam"/>'s state in PyTorch's <c>optimizer.state_dict()</c> layout, so a run can resume
/// from the official code's <c>opt{step}.pt</c> and the official code (PyTorch 1.13 or 2.x) can resume from ours:
/// <c>{"state": {i: {"step": tensor(float32), "exp_avg": T, "exp_avg_sq": T}}, "param_groups": [{"lr", "betas",
/// "eps", "weight_decay", ..., "params": [0..n-1]}]}</c>, parameters numbered in <see cref="RAdam.Parameters"/> order.
/// </summary>
public static class RAdamCheckpoint
{
    /// <summary>
    /// Writes <paramref name="optimizer"/>'s state (only parameters that have state, as PyTorch does; moments copied
    /// to the CPU as they are written) and hyper-parameters, atomically. <c>torch.load</c> reads it (with
    /// weights_only=True from PyTorch 2.0 on; 1.13's restricted unpickler refuses the float hyper-parameters, as it
    /// does for PyTorch's own optimizer files) and <c>torch.optim.RAdam.load_state_dict</c> accepts it.
    /// </summary>
    /// <remarks>The step is a float32 scalar tensor, as in PyTorch: exact up to 2^24 steps.</remarks>
    public static void Save(string path, RAdam optimizer)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        using var scope = NewDisposeScope();
        var state = new OrderedDictionary<long, object?>();
        for (int i = 0; i < optimizer.State.Count; i++)
        {
            if (optimizer.State[i] is not { } s) continue;
            state[i] = new OrderedDictionary<string, object?>
            {
                ["step"] = tensor((float)s.Step, dtype: ScalarType.Float32),
                ["exp_avg"] = s.ExpAvg,
                ["exp_avg_sq"] = s.ExpAvgSq,
            };
        }
        var o = optimizer.Options;
        var group = new OrderedDictionary<string, object?>
        {
            ["lr"] = o.LearningRate,
            ["betas"] = new PickleTuple(o.Beta1, o.Beta2),
            ["eps"] = o.Eps,
            ["weight_decay"] = o.WeightDecay,
            ["foreach"] = null,
            ["maximize"] = false,
            ["capturable"] = false,
            ["differentiable"] = false,
            ["decoupled_weight_decay"] = o.DecoupledWeightDecay,
            ["params"] = Enumerable.Range(0, optimizer.Parameters.Count).Select(i => (object?)(long)i).ToList(),
        };
        TorchCheckpoint.SaveObject(path, new OrderedDictionary<string, object?>
        {
            ["state"] = state,
            ["param_groups"] = new List<object?> { group },
        });
    }

    /// <summary>The learning rate a file of <see cref="Save"/> (or PyTorch's) holds: its param_groups[0]['lr'].</summary>
    /// <exception cref="CheckpointFormatException">The file is not a single-group optimizer state dict.</exception>
    public static double LearningRate(string path)
    {
        using var scope = NewDisposeScope(); // the moments read with the graph are freed on the way out
        var error = (string message) => new CheckpointFormatException($"{path}: {message}");
        var (_, group) = StateAndGroup(TorchCheckpoint.ReadGraph(path), error);
        return Number(group, "lr", error);
    }

    /// <summary>The 'state' entry and the single parameter group of an optimizer state dict.</summary>
    private static (object? State, OrderedDictionary<string, object?> Group) StateAndGroup(object? root, Func<string, CheckpointFormatException> error)
    {
        if (root is not OrderedDictionary<string, object?> dict
            || !dict.TryGetValue("state", out var stateObj) || !dict.TryGetValue("param_groups", out var groupsObj))
            throw error($"not an optimizer state dict (expected a dict with 'state' and 'param_groups', found a {Describe(root)})");
        if (groupsObj is not List<object?> groups || groups.Count != 1 || groups[0] is not OrderedDictionary<string, object?> group)
            throw error($"'param_groups' must be a list of exactly one dict (RAdam here has one parameter group), found {DescribeGroups(groupsObj)}");
        return (stateObj, group);
    }

    /// <summary>
    /// Restores a state written by <see cref="Save"/> or by PyTorch's <c>torch.save(radam.state_dict())</c> into
    /// <paramref name="optimizer"/>, like <c>load_state_dict</c>: saved parameter k (in "params" order) is
    /// <c>optimizer.Parameters[k]</c>; moments are converted to each parameter's dtype and device; lr, betas, eps,
    /// weight_decay (and decoupled_weight_decay when present) replace <see cref="RAdam.Options"/>. Everything is
    /// checked before anything changes: parameter count, moment shapes (errors name the parameter index and shapes),
    /// and that no parameter the file has no state for already has state here (load into a fresh optimizer).
    /// </summary>
    /// <exception cref="CheckpointFormatException">The file is not a single-group RAdam state dict for these parameters.</exception>
    public static void Load(string path, RAdam optimizer)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        using var scope = NewDisposeScope(); // every tensor read from the file is freed on the way out
        var error = (string message) => new CheckpointFormatException($"{path}: {message}");
        var (stateObj, group) = StateAndGroup(TorchCheckpoint.ReadGraph(path), error);

        // Hyper-parameters.
        double lr = Number(group, "lr", error);
        if (!group.TryGetValue("betas", out var betasObj) || betasObj is not (object?[] or List<object?>))
            throw error("param_groups[0]['betas'] is missing or not a pair");
        var betas = betasObj is object?[] arr ? arr : ((List<object?>)betasObj).ToArray();
        if (betas.Length != 2) throw error($"param_groups[0]['betas'] has {betas.Length} items, expected 2");
        double beta1 = AsDouble(betas[0]) ?? throw error("param_groups[0]['betas'][0] is not a number");
        double beta2 = AsDouble(betas[1]) ?? throw error("param_groups[0]['betas'][1] is not a number");
        double eps = Number(group, "eps", error);
        double weightDecay = Number(group, "weight_decay", error);
        bool decoupled = optimizer.Options.DecoupledWeightDecay;
        if (group.TryGetValue("decoupled_weight_decay", out var dwd))
            decoupled = dwd as bool? ?? throw error("param_groups[0]['decoupled_weight_decay'] is not a bool");
        if (group.TryGetValue("maximize", out var maximize) && maximize is true)
            throw error("the optimizer was saved with maximize=True, which this RAdam does not support");

        // Parameter ids: saved id k ↔ optimizer.Parameters[k].
        if (!group.TryGetValue("params", out var idsObj) || idsObj is not List<object?> ids)
            throw error("param_groups[0]['params'] is missing or not a list");
        int n = optimizer.Parameters.Count;
        if (ids.Count != n)
            throw error($"the checkpoint holds state for {ids.Count} parameters but the optimizer has {n}: the model does not match the one that was saved");
        var indexOfId = new Dictionary<long, int>();
        for (int k = 0; k < ids.Count; k++)
        {
            if (ids[k] is not long id) throw error($"param_groups[0]['params'][{k}] is a {Describe(ids[k])}, not an int");
            if (!indexOfId.TryAdd(id, k)) throw error($"parameter id {id} appears twice in param_groups[0]['params']");
        }

        // Per-parameter state.
        if (stateObj is not OrderedDictionary<string, object?> state)
            throw error($"'state' must be a dict, found a {Describe(stateObj)}");
        var loaded = new (long Step, Tensor ExpAvg, Tensor ExpAvgSq)?[n];
        foreach (var (key, value) in state)
        {
            if (!long.TryParse(key, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var id) || !indexOfId.TryGetValue(id, out var k))
                throw error($"'state' has an entry for parameter id {key}, which is not in param_groups[0]['params']");
            if (value is not OrderedDictionary<string, object?> entry)
                throw error($"state[{key}] must be a dict, found a {Describe(value)}");
            var p = optimizer.Parameters[k];
            long step = Step(entry, k, error);
            var expAvg = Moment(entry, "exp_avg", k, p, error);
            var expAvgSq = Moment(entry, "exp_avg_sq", k, p, error);
            loaded[k] = (step, expAvg, expAvgSq);
        }
        for (int k = 0; k < n; k++)
            if (loaded[k] is null && optimizer.State[k] is not null)
                throw new InvalidOperationException(
                    $"{path}: the checkpoint has no state for parameter {k} but the optimizer already has some; load into a fresh RAdam");

        // Apply: the Options setter validates (throws before anything changed), then the moments.
        optimizer.Options = optimizer.Options with
        {
            LearningRate = lr, Beta1 = beta1, Beta2 = beta2, Eps = eps, WeightDecay = weightDecay, DecoupledWeightDecay = decoupled,
        };
        for (int k = 0; k < n; k++)
        {
            if (loaded[k] is not { } s) continue;
            optimizer.LoadState(k, s.Step, s.ExpAvg, s.ExpAvgSq);
            // LoadState's copies are made inside this method's dispose scope: the optimiser owns them, not the scope.
            var kept = optimizer.State[k]!;
            kept.ExpAvg.DetachFromDisposeScope();
            kept.ExpAvgSq.DetachFromDisposeScope();
        }
    }

    private static long Step(OrderedDictionary<string, object?> entry, int k, Func<string, CheckpointFormatException> error)
    {
        if (!entry.TryGetValue("step", out var stepObj)) throw error($"state for parameter {k} has no 'step'");
        double step = stepObj switch
        {
            // PyTorch ≥ 1.12 keeps the step as a scalar tensor; older versions as a Python int.
            Tensor t when t.numel() == 1 => t.to(ScalarType.Float64).item<double>(),
            _ => AsDouble(stepObj) ?? throw error($"state for parameter {k}: 'step' is a {Describe(stepObj)}, not a number"),
        };
        if (!(step >= 0) || step != Math.Floor(step) || step > long.MaxValue)
            throw error($"state for parameter {k}: 'step' is {step}, not a step count");
        return (long)step;
    }

    private static Tensor Moment(OrderedDictionary<string, object?> entry, string name, int k, Tensor p, Func<string, CheckpointFormatException> error)
    {
        if (!entry.TryGetValue(name, out var value) || value is not Tensor t)
            throw error($"state for parameter {k}: '{name}' is missing or not a tensor");
        if (!t.shape.SequenceEqual(p.shape))
            throw error($"state for parameter {k}: '{name}' has shape {Shape(t.shape)} but the parameter has shape {Shape(p.shape)}: the model does not match the one that was saved");
        if (!t.is_floating_point()) throw error($"state for parameter {k}: '{name}' has dtype {t.dtype}, not a floating-point type");
        return t;
    }

    private static double Number(OrderedDictionary<string, object?> group, string name, Func<string, CheckpointFormatException> error)
    {
        if (!group.TryGetValue(name, out var v)) throw error($"param_groups[0] has no '{name}'");
        // PyTorch 2.x allows a tensor learning rate; it pickles as a scalar tensor.
        if (v is Tensor t && t.numel() == 1) return t.to(ScalarType.Float64).item<double>();
        return AsDouble(v) ?? throw error($"param_groups[0]['{name}'] is a {Describe(v)}, not a number");
    }

    private static double? AsDouble(object? v) => v switch
    {
        double d => d,
        long l => l,
        BigInteger b => (double)b,
        _ => null,
    };

    private static string Shape(long[] shape) => "[" + string.Join(", ", shape) + "]";

    private static string Describe(object? v) => v switch
    {
        null => "None",
        Tensor t => $"tensor {Shape(t.shape)}",
        object?[] => "tuple",
        List<object?> => "list",
        OrderedDictionary<string, object?> => "dict",
        string => "str",
        long => "int",
        double => "float",
        bool => "bool",
        _ => v.GetType().Name,
    };

    private static string DescribeGroups(object? v) =>
        v is List<object?> l ? $"a list of {l.Count}" : $"a {Describe(v)}";
}
