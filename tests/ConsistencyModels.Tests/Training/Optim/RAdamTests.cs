// torch.optim.RAdam parity: one step on the fixture (losses_imagenet64.pt radam.*), the rectified branch against a
// float64 textbook reference, and why TorchSharp's own RAdam is not used.
using ConsistencyModels.Tests.Parity;
using ConsistencyModels.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace ConsistencyModels.Tests.Training.Optim;

public class RAdamTests
{
    // The radam fixture entry: RAdam(online.parameters(), lr=1e-4, weight_decay=0).step() after the ct.l2 loss's
    // backward. label_emb records only rows y; RAdam is elementwise and the other rows' gradients are zero (their
    // state stays 0 and the weights do not move), so the recorded rows stand in for the whole parameter.
    private static readonly string[] RecordedParameters =
        ["time_embed.0.weight", "label_emb.weight[y]", "input_blocks.0.0.weight", "input_blocks.5.1.qkv.weight", "out.2.weight"];

    private const double FixtureLearningRate = 1e-4;

    [SkippableFact]
    public void OneStepMatchesPyTorch()
    {
        var f = Fixture.Open("losses_imagenet64.pt");
        var parameters = RecordedParameters.Select(n => WithGradient(f[$"radam.before.{n}"], f[$"ct.l2.grad.{n}"])).ToList();
        using var optimizer = new RAdam(parameters, new RAdamOptions(FixtureLearningRate));
        optimizer.Step();
        for (int i = 0; i < RecordedParameters.Length; i++)
        {
            string n = RecordedParameters[i];
            var state = optimizer.State[i]!;
            Assert.Equal(1, state.Step);
            Close.Assert(f[$"radam.after.{n}"], parameters[i], 1e-7, 0, $"after.{n}");
            Close.Assert(f[$"radam.exp_avg.{n}"], state.ExpAvg, 1e-12, 1e-6, $"exp_avg.{n}");
            Close.Assert(f[$"radam.exp_avg_sq.{n}"], state.ExpAvgSq, 1e-20, 1e-6, $"exp_avg_sq.{n}");
        }
    }

    [SkippableFact]
    public void TorchSharpRAdamAlsoMatchesTheFixtureStepBecauseStepOneIsUnrectified()
    {
        // ρ_1 = 1 ≤ 5: the first step is plain momentum SGD, where TorchSharp's RAdam is right.
        var f = Fixture.Open("losses_imagenet64.pt");
        var parameters = RecordedParameters
            .Select(n => new TorchSharp.Modules.Parameter(f[$"radam.before.{n}"].clone()))
            .ToList();
        for (int i = 0; i < parameters.Count; i++) parameters[i].grad = f[$"ct.l2.grad.{RecordedParameters[i]}"].clone();
        using var optimizer = optim.RAdam(parameters, lr: FixtureLearningRate);
        optimizer.step();
        for (int i = 0; i < RecordedParameters.Length; i++)
            Close.Assert(f[$"radam.after.{RecordedParameters[i]}"], parameters[i], 1e-7, 0, $"torchsharp after.{RecordedParameters[i]}");
    }

    [Fact]
    public void RectifiedStepsMatchAFloat64Reference()
    {
        const int steps = 12;   // ρ_t > 5 from step 6 on with β2 = 0.999
        var options = new RAdamOptions(1e-3, WeightDecay: 0.01);
        var generator = new Generator(7);
        using var param = randn(new long[] { 64 }, dtype: ScalarType.Float64, generator: generator).requires_grad_(true);
        var grads = Enumerable.Range(0, steps).Select(_ => randn(new long[] { 64 }, dtype: ScalarType.Float64, generator: generator)).ToList();
        double[] expected = param.data<double>().ToArray();
        var reference = new TextbookRAdam(expected.Length, options);
        using var optimizer = new RAdam([param], options);
        foreach (var g in grads)
        {
            param.grad = g;
            optimizer.Step();
            reference.Step(expected, g.data<double>().ToArray());
        }
        Assert.Equal(steps, optimizer.State[0]!.Step);
        Close.Assert(tensor(expected), param, 1e-12, 1e-12, "rectified RAdam");
    }

    [Fact]
    public void TorchSharpRAdamAppliesTheLearningRateTwiceOnceRectified()
    {
        // Why Training.RAdam exists: TorchSharp 0.107's RAdam computes `bias_corrected_exp_avg * lr` and then multiplies
        // by lr again in the ρ_t > 5 branch, so from step 6 on its update is lr × PyTorch's. (float64 so the tiny
        // update stays visible.) If this fails, TorchSharp has been fixed and could be used instead.
        const double lr = 1e-3;
        var generator = new Generator(11);
        using var start = randn(new long[] { 32 }, dtype: ScalarType.Float64, generator: generator);
        var grads = Enumerable.Range(0, 6).Select(_ => randn(new long[] { 32 }, dtype: ScalarType.Float64, generator: generator)).ToList();
        using var ours = start.clone().requires_grad_(true);
        using var theirs = new TorchSharp.Modules.Parameter(start.clone());
        using var ourOptimizer = new RAdam([ours], new RAdamOptions(lr));
        using var theirOptimizer = optim.RAdam([theirs], lr: lr);
        for (int i = 0; i < 5; i++)
        {
            ours.grad = grads[i].clone();
            theirs.grad = grads[i].clone();
            ourOptimizer.Step();
            theirOptimizer.step();
        }
        Assert.Equal(0, Close.MaxAbsDiff(ours, theirs));   // steps 1–5 (ρ_t ≤ 5): identical
        using var before = ours.detach().clone();
        ours.grad = grads[5].clone();
        theirs.grad = grads[5].clone();
        ourOptimizer.Step();
        theirOptimizer.step();
        using var ourUpdate = ours.detach() - before;
        using var theirUpdate = theirs.detach() - before;
        Assert.True(ourUpdate.abs().min().item<double>() > 0);
        Close.Assert(ourUpdate * lr, theirUpdate, 0, 1e-6, "TorchSharp's step-6 update vs lr × ours");
    }

    [Fact]
    public void ParametersWithoutGradientsKeepNoState()
    {
        using var a = ones(3).requires_grad_(true);
        using var b = ones(3).requires_grad_(true);
        a.grad = full(3, 0.5f);
        using var optimizer = new RAdam([a, b], new RAdamOptions(0.1));
        optimizer.Step();
        // a's state after one step with g = 0.5: m = (1 − β1)·g, v = (1 − β2)·g²; step 1 is unrectified (ρ_1 ≤ 5), so
        // a moves by lr·m/(1 − β1) = lr·g.
        var state = optimizer.State[0]!;
        Assert.Equal(1, state.Step);
        Close.Assert(full(3, 0.1 * 0.5), state.ExpAvg, 1e-9, 0, "exp_avg");
        Close.Assert(full(3, 0.001 * 0.25), state.ExpAvgSq, 1e-12, 0, "exp_avg_sq");
        Close.Assert(full(3, 1 - 0.1 * 0.5), a.detach(), 1e-7, 0, "a after one step");
        Assert.Null(optimizer.State[1]);
        Assert.Equal(new[] { 1f, 1f, 1f }, b.data<float>().ToArray());
        optimizer.ZeroGrad();
        Assert.Null(a.grad);
    }

    [Fact]
    public void LoadStateResumesTheStepCount()
    {
        using var p = zeros(2).requires_grad_(true);
        using var optimizer = new RAdam([p], new RAdamOptions(0.1));
        optimizer.LoadState(0, 41, full(2, 0.2f), full(2, 0.04f));
        p.grad = ones(2);
        optimizer.Step();
        Assert.Equal(42, optimizer.State[0]!.Step);
        Assert.Throws<ArgumentException>(() => optimizer.LoadState(0, 1, zeros(3), zeros(3)));
    }

    private static Tensor WithGradient(Tensor before, Tensor grad)
    {
        var p = before.clone().requires_grad_(true);
        p.grad = grad.clone();
        return p;
    }

    /// <summary>Algorithm 2 of Liu et al. in plain doubles (PyTorch's L2-coupled weight decay), independent of tensors.</summary>
    private sealed class TextbookRAdam(int size, RAdamOptions o)
    {
        private readonly double[] _m = new double[size], _v = new double[size];
        private int _t;

        public void Step(double[] theta, double[] grad)
        {
            _t++;
            double rhoInf = 2 / (1 - o.Beta2) - 1;
            double b2t = Math.Pow(o.Beta2, _t);
            double rhoT = rhoInf - 2 * _t * b2t / (1 - b2t);
            for (int i = 0; i < theta.Length; i++)
            {
                double g = grad[i] + o.WeightDecay * theta[i];
                _m[i] = o.Beta1 * _m[i] + (1 - o.Beta1) * g;
                _v[i] = o.Beta2 * _v[i] + (1 - o.Beta2) * g * g;
                double mHat = _m[i] / (1 - Math.Pow(o.Beta1, _t));
                if (rhoT > 5)
                {
                    double r = Math.Sqrt((rhoT - 4) * (rhoT - 2) * rhoInf / ((rhoInf - 4) * (rhoInf - 2) * rhoT));
                    double l = Math.Sqrt(1 - b2t) / (Math.Sqrt(_v[i]) + o.Eps);
                    theta[i] -= o.LearningRate * mHat * r * l;
                }
                else theta[i] -= o.LearningRate * mHat;
            }
        }
    }
}
