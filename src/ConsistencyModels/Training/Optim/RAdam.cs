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
public sealed class RAdamParameterState(long step, Tensor expAvg, Tensor expAvgSq, bool ownsMoments = true) : IDisposable
{
    /// <summary>Steps taken with this parameter (PyTorch stores it as a float32 scalar tensor; exact below 2^24).</summary>
    public long Step { get; internal set; } = step;
    public Tensor ExpAvg { get; } = expAvg;
    public Tensor ExpAvgSq { get; } = expAvgSq;

    public void Dispose()
    {
        if (!ownsMoments) return;                  // views of the optimiser's flat moments, which it disposes
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
    // With flat parameters: their layout, the buffer they are views of, and the moments as flat buffers plus views.
    private readonly FlatLayout? _layout;
    private readonly Tensor? _flatParameters, _flatExpAvg, _flatExpAvgSq;
    private readonly Tensor[]? _expAvgViews, _expAvgSqViews;

    /// <param name="flatParameters">
    /// The buffer <paramref name="parameters"/> are views of, in order (<see cref="FlatLayout.Adopt"/>): a step where
    /// every parameter has a gradient and the same step count then runs once over the whole buffer, with the same
    /// arithmetic per element. The optimiser does not own it.
    /// </param>
    public RAdam(IEnumerable<Tensor> parameters, RAdamOptions options, Tensor? flatParameters = null)
    {
        Validate(options);
        _parameters = parameters.ToArray();
        _state = new RAdamParameterState?[_parameters.Length];
        Options = options;
        if (flatParameters is not null)
        {
            _layout = FlatLayout.Of(_parameters);
            if (flatParameters.numel() != _layout.Count)
                throw new ArgumentException($"the flat parameter buffer holds {flatParameters.numel()} elements, the parameters {_layout.Count}");
            _flatParameters = flatParameters;
            _flatExpAvg = _layout.NewBuffer();
            _flatExpAvgSq = _layout.NewBuffer();
            _expAvgViews = _layout.Views(_flatExpAvg);
            _expAvgSqViews = _layout.Views(_flatExpAvgSq);
        }
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
        if (_expAvgViews is not null)
        {
            using (no_grad())
            {
                _expAvgViews[index].copy_(expAvg);
                _expAvgSqViews![index].copy_(expAvgSq);
            }
            _state[index] = new RAdamParameterState(step, _expAvgViews[index], _expAvgSqViews[index], ownsMoments: false);
            return;
        }
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
        using var noGrad = no_grad();
        if (FusedStep()) return;
        for (int i = 0; i < _parameters.Length; i++)
        {
            var param = _parameters[i];
            var grad = param.grad;
            if (grad is null) continue;
            using var scope = NewDisposeScope();
            var state = _state[i] ??= NewState(i);
            state.Step += 1;
            Update(param, grad, state.ExpAvg, state.ExpAvgSq, state.Step);
        }
    }

    /// <summary>
    /// One step of every parameter with the gradients packed in <paramref name="flatGradient"/> (the flat layout's order)
    /// instead of the parameters' own: a mixed-precision run's unscaled fp32 gradients, gathered from the low-precision
    /// network, for its fp32 master weights. Needs the flat parameter buffer, and every parameter at the same step.
    /// </summary>
    public void Step(Tensor flatGradient)
    {
        if (_flatParameters is null) throw new InvalidOperationException("a step from one flat gradient needs the flat parameter buffer");
        if (flatGradient.numel() != _layout!.Count)
            throw new ArgumentException($"the flat gradient holds {flatGradient.numel()} elements, the parameters {_layout.Count}");
        long step = (_state[0]?.Step ?? 0) + 1;
        for (int i = 0; i < _parameters.Length; i++)
            if ((_state[i]?.Step ?? 0) != step - 1) throw new InvalidOperationException($"parameter {i} is at another step than parameter 0");
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        for (int i = 0; i < _parameters.Length; i++) (_state[i] ??= NewState(i)).Step = step;
        Update(_flatParameters, flatGradient, _flatExpAvg!, _flatExpAvgSq!, step);
    }

    /// <summary>The step of every parameter at once over the flat buffers, where each has a gradient and all share a step count.</summary>
    private bool FusedStep()
    {
        if (_flatParameters is null) return false;
        long? steps = null;
        for (int i = 0; i < _parameters.Length; i++)
        {
            long s = _state[i]?.Step ?? 0;
            if (steps is null) steps = s;
            else if (steps != s) return false;
        }
        using var scope = NewDisposeScope();
        var grads = new Tensor[_parameters.Length];
        for (int i = 0; i < grads.Length; i++)
            if ((grads[i] = _parameters[i].grad!) is null) return false;
        long step = steps!.Value + 1;
        for (int i = 0; i < _parameters.Length; i++) (_state[i] ??= NewState(i)).Step = step;
        Update(_flatParameters, _layout!.Gather(grads), _flatExpAvg!, _flatExpAvgSq!, step);
        return true;
    }

    /// <summary>PyTorch's per-parameter RAdam arithmetic (in the caller's dispose scope).</summary>
    private void Update(Tensor param, Tensor grad, Tensor expAvg, Tensor expAvgSq, long stepCount)
    {
        var o = Options;
        double beta1 = o.Beta1, beta2 = o.Beta2, lr = o.LearningRate, step = stepCount;
        if (o.WeightDecay != 0)
        {
            if (o.DecoupledWeightDecay) param.mul_(1 - lr * o.WeightDecay); // PyTorch ≥ 2.0's AdamW-style option
            else grad = grad.add(param, alpha: o.WeightDecay);
        }

        // PyTorch 1.13 (the fixtures' version) decays with mul_/add_; ≥ 2.1 uses lerp_, which rounds differently.
        expAvg.mul_(beta1).add_(grad, alpha: 1 - beta1);
        expAvgSq.mul_(beta2).addcmul_(grad, grad, value: 1 - beta2);

        double biasCorrection1 = 1 - Math.Pow(beta1, step);
        double biasCorrection2 = 1 - Math.Pow(beta2, step);
        var biasCorrectedExpAvg = expAvg / biasCorrection1;

        // Length of the approximated simple moving average; the variance is tractable only when ρ_t > 5.
        double rhoInf = 2 / (1 - beta2) - 1;
        double rhoT = rhoInf - 2 * step * Math.Pow(beta2, step) / biasCorrection2;

        if (rhoT > 5.0)
        {
            double rect = Math.Sqrt((rhoT - 4) * (rhoT - 2) * rhoInf / ((rhoInf - 4) * (rhoInf - 2) * rhoT));
            var expAvgSqSqrt = expAvgSq.sqrt().add_(o.Eps);
            // Python's `float / tensor` is Tensor.__rtruediv__ = tensor.reciprocal() * float.
            var adaptiveLr = expAvgSqSqrt.reciprocal().mul_(Math.Sqrt(biasCorrection2));
            param.add_(biasCorrectedExpAvg * lr * adaptiveLr * rect, alpha: -1.0);
        }
        else
        {
            param.add_(biasCorrectedExpAvg * lr, alpha: -1.0);
        }
    }

    public void Dispose()
    {
        for (int i = 0; i < _state.Length; i++)
        {
            _state[i]?.Dispose();
            _state[i] = null;
        }
        foreach (var t in (_expAvgViews ?? []).Concat(_expAvgSqViews ?? [])) t.Dispose();
        _flatExpAvg?.Dispose();
        _flatExpAvgSq?.Dispose();
    }

    private RAdamParameterState NewState(int i) => _expAvgViews is not null
        ? new(0, _expAvgViews[i], _expAvgSqViews![i], ownsMoments: false)
        : new(0, zeros_like(_parameters[i]).DetachFromDisposeScope(), zeros_like(_parameters[i]).DetachFromDisposeScope());

    private static void Validate(RAdamOptions o)
    {
        if (!(o.LearningRate >= 0)) throw new ArgumentException($"Invalid learning rate: {o.LearningRate}");
        if (!(o.Eps >= 0)) throw new ArgumentException($"Invalid epsilon value: {o.Eps}");
        if (!(o.Beta1 >= 0 && o.Beta1 < 1)) throw new ArgumentException($"Invalid beta parameter at index 0: {o.Beta1}");
        if (!(o.Beta2 >= 0 && o.Beta2 < 1)) throw new ArgumentException($"Invalid beta parameter at index 1: {o.Beta2}");
        if (!(o.WeightDecay >= 0)) throw new ArgumentException($"Invalid weight_decay value: {o.WeightDecay}");
    }
}
