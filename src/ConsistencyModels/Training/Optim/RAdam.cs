// Rectified Adam (Liu et al. 2019, arXiv 1908.03265) — op-for-op port of PyTorch 1.13's torch.optim.RAdam
// (_single_tensor_radam), the optimiser of every official run (cm/train_util.py).
using static TorchSharp.torch;

namespace ConsistencyModels.Training;

/// <summary>torch.optim.RAdam's hyper-parameters (one param group); the defaults are PyTorch's, as the official runs use.</summary>
public sealed record RAdamOptions(
    double LearningRate,
    double Beta1 = 0.9,
    double Beta2 = 0.999,
    double Eps = 1e-8,
    double WeightDecay = 0,
    bool DecoupledWeightDecay = false);

/// <summary>
/// One parameter's optimiser state, as in PyTorch's <c>optimizer.state_dict()["state"][i]</c>: step count and the two
/// moment estimates (same dtype/device as the parameter, float32 for the official runs). Owned by the optimiser.
/// </summary>
public sealed class RAdamParameterState(long step, Tensor expAvg, Tensor expAvgSq) : IDisposable
{
    /// <summary>Steps taken with this parameter (PyTorch stores it as a float32 scalar tensor; exact below 2^24).</summary>
    public long Step { get; internal set; } = step;
    public Tensor ExpAvg { get; } = expAvg;
    public Tensor ExpAvgSq { get; } = expAvgSq;

    public void Dispose()
    {
        ExpAvg.Dispose();
        ExpAvgSq.Dispose();
    }
}

/// <summary>
/// Our own RAdam rather than TorchSharp's: TorchSharp 0.107's <c>torch.optim.RAdam</c> multiplies the learning rate in
/// twice in the rectified branch (ρ_t &gt; 5, i.e. from step 6 on with β2 = 0.999), so it only agrees with PyTorch on
/// the first five steps. The arithmetic below repeats PyTorch's tensor operations in PyTorch's order so float32
/// rounding matches; the state is exposed per parameter so it can be written in the official opt{step}.pt layout.
/// </summary>
public sealed class RAdam : IDisposable
{
    private readonly Tensor[] _parameters;
    private readonly RAdamParameterState?[] _state;

    public RAdam(IEnumerable<Tensor> parameters, RAdamOptions options)
    {
        Validate(options);
        _parameters = parameters.ToArray();
        _state = new RAdamParameterState?[_parameters.Length];
        Options = options;
    }

    /// <summary>Hyper-parameters; replace (e.g. <c>with { LearningRate = … }</c>) to change them between steps.</summary>
    public RAdamOptions Options
    {
        get;
        set { Validate(value); field = value; }
    }

    public IReadOnlyList<Tensor> Parameters => _parameters;

    /// <summary>State per parameter, in parameter order; null until the parameter first had a gradient (as in PyTorch).</summary>
    public IReadOnlyList<RAdamParameterState?> State => _state;

    /// <summary>Replaces parameter <paramref name="index"/>'s state (e.g. when resuming from opt{step}.pt); copies the tensors.</summary>
    public void LoadState(int index, long step, Tensor expAvg, Tensor expAvgSq)
    {
        var p = _parameters[index];
        if (!expAvg.shape.SequenceEqual(p.shape) || !expAvgSq.shape.SequenceEqual(p.shape))
            throw new ArgumentException($"RAdam state {index}: moment shapes do not match the parameter [{string.Join(",", p.shape)}]");
        _state[index]?.Dispose();
        // The copies belong to the optimiser, not to whatever dispose scope the caller is in.
        _state[index] = new RAdamParameterState(step,
            expAvg.detach().to(p.dtype, p.device).clone().DetachFromDisposeScope(),
            expAvgSq.detach().to(p.dtype, p.device).clone().DetachFromDisposeScope());
    }

    /// <summary>Sets every parameter's gradient to none (PyTorch's zero_grad(set_to_none=True)).</summary>
    public void ZeroGrad()
    {
        foreach (var p in _parameters)
        {
            var g = p.grad;
            if (g is null) continue;
            p.grad = null;
        }
    }

    /// <summary>One RAdam step on every parameter that has a gradient.</summary>
    public void Step()
    {
        var o = Options;
        double beta1 = o.Beta1, beta2 = o.Beta2, lr = o.LearningRate;
        using var noGrad = no_grad();
        for (int i = 0; i < _parameters.Length; i++)
        {
            var param = _parameters[i];
            var grad = param.grad;
            if (grad is null) continue;
            using var scope = NewDisposeScope();
            var state = _state[i] ??= NewState(param);
            state.Step += 1;
            double step = state.Step;

            if (o.WeightDecay != 0)
            {
                if (o.DecoupledWeightDecay) param.mul_(1 - lr * o.WeightDecay); // PyTorch ≥ 2.0's AdamW-style option
                else grad = grad.add(param, alpha: o.WeightDecay);
            }

            // PyTorch 1.13 (the fixtures' version) decays with mul_/add_; ≥ 2.1 uses lerp_, which rounds differently.
            state.ExpAvg.mul_(beta1).add_(grad, alpha: 1 - beta1);
            state.ExpAvgSq.mul_(beta2).addcmul_(grad, grad, value: 1 - beta2);

            double biasCorrection1 = 1 - Math.Pow(beta1, step);
            double biasCorrection2 = 1 - Math.Pow(beta2, step);
            var biasCorrectedExpAvg = state.ExpAvg / biasCorrection1;

            // Length of the approximated simple moving average; the variance is tractable only when ρ_t > 5.
            double rhoInf = 2 / (1 - beta2) - 1;
            double rhoT = rhoInf - 2 * step * Math.Pow(beta2, step) / biasCorrection2;

            if (rhoT > 5.0)
            {
                double rect = Math.Sqrt((rhoT - 4) * (rhoT - 2) * rhoInf / ((rhoInf - 4) * (rhoInf - 2) * rhoT));
                var expAvgSqSqrt = state.ExpAvgSq.sqrt().add_(o.Eps);
                // Python's `float / tensor` is Tensor.__rtruediv__ = tensor.reciprocal() * float.
                var adaptiveLr = expAvgSqSqrt.reciprocal().mul_(Math.Sqrt(biasCorrection2));
                param.add_(biasCorrectedExpAvg * lr * adaptiveLr * rect, alpha: -1.0);
            }
            else
            {
                param.add_(biasCorrectedExpAvg * lr, alpha: -1.0);
            }
        }
    }

    public void Dispose()
    {
        for (int i = 0; i < _state.Length; i++)
        {
            _state[i]?.Dispose();
            _state[i] = null;
        }
    }

    private static RAdamParameterState NewState(Tensor param) =>
        new(0, zeros_like(param).DetachFromDisposeScope(), zeros_like(param).DetachFromDisposeScope());

    private static void Validate(RAdamOptions o)
    {
        if (!(o.LearningRate >= 0)) throw new ArgumentException($"Invalid learning rate: {o.LearningRate}");
        if (!(o.Eps >= 0)) throw new ArgumentException($"Invalid epsilon value: {o.Eps}");
        if (!(o.Beta1 >= 0 && o.Beta1 < 1)) throw new ArgumentException($"Invalid beta parameter at index 0: {o.Beta1}");
        if (!(o.Beta2 >= 0 && o.Beta2 < 1)) throw new ArgumentException($"Invalid beta parameter at index 1: {o.Beta2}");
        if (!(o.WeightDecay >= 0)) throw new ArgumentException($"Invalid weight_decay value: {o.WeightDecay}");
    }
}
