// One optimisation step of EDM, CD, CT or ECT — port of cm/train_util.py::CMTrainLoop.run_step / forward_backward (reference §6.1).
using ConsistencyModels.Diffusion;
using ConsistencyModels.Distributed;
using ConsistencyModels.Nn;
using ConsistencyModels.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace ConsistencyModels.Training;

/// <summary>The mean loss of a step over the global batch, and the N(k) and μ(k) it used (0 and 0 for EDM).</summary>
public sealed record TrainingStepResult(double Loss, int Scales, double TargetEma);

public static class TrainingStep
{
    /// <summary>
    /// One step on <paramref name="batch"/> (the batch of <paramref name="state"/>.Step): losses, backward, gradients
    /// summed over ranks, RAdam, the EMAs and the target update; then the step count advances. Every random draw comes
    /// from generators seeded with (seed, step), so the step is a function of the state and the batch. Each rank
    /// computes its contiguous share of the rows but draws the randoms of the whole batch, so N ranks give the step of
    /// one process with the whole batch (to float rounding).
    /// </summary>
    public static TrainingStepResult Run(TrainingState state, TrainingOptions o, TrainingBatch batch, GradientSync sync)
    {
        if (batch.Step != state.Step) throw new InvalidOperationException($"batch of step {batch.Step} given at step {state.Step}");
        using var scope = NewDisposeScope();
        var (targetEma, scales) = o.HasTarget ? EmaAndScales.At(o.Schedule, state.Step) : (0.0, 0);
        double lossTotal;
        if (state.Precision == Precision.Fp32)
        {
            lossTotal = ForwardBackward(state, o, batch, sync, scales, lossScale: 1);
            state.Optimizer.Step();
        }
        else lossTotal = MixedPrecisionStep(state, o, batch, sync, scales);
        var source = state.FlatParameters is { } f ? [f] : state.Parameters;
        foreach (var ema in state.Emas) Ema.Update(ema.Flat is { } e ? [e] : ema.Parameters, source, ema.Beta(state.Step, o.GlobalBatchSize));
        if (state.FlatTarget is { } ft) Ema.Update([ft], source, targetEma);
        else if (state.Target is not null) Ema.Update(state.Target, state.Online, targetEma);
        state.CopyToNetworks();
        state.Step++;
        return new(lossTotal, scales, targetEma);
    }

    /// <summary>
    /// MixedPrecisionTrainer's optimize: backward of the loss times 2^lg, the gradients gathered into fp32 and divided by
    /// it, RAdam on the fp32 masters. Where they overflow, lg drops by one and the step is computed again from the same
    /// randoms and batch (upstream drops the batch instead; here a step stays a function of (state, batch)).
    /// </summary>
    private static double MixedPrecisionStep(TrainingState state, TrainingOptions o, TrainingBatch batch, GradientSync sync, int scales)
    {
        while (true)
        {
            using var attempt = NewDisposeScope();
            double scale = Math.Pow(2, state.LossScaleLog2);
            double loss = ForwardBackward(state, o, batch, sync, scales, scale);
            // model_grads_to_master_grads: each gradient cast into its view of the run's one fp32 gradient buffer.
            var grad = state.MasterGradient!;
            using (no_grad())
                for (int i = 0; i < state.NetworkParameters.Count; i++)
                    state.MasterGradientViews![i].copy_(state.NetworkParameters[i].grad ?? throw new InvalidOperationException(
                        $"parameter {i} of the online network got no gradient: `Precision` {state.Precision} (mixed precision) steps every parameter; train it in fp32"));
            if (grad.isfinite().all().item<bool>())
            {
                grad.mul_(1.0 / scale);
                state.Optimizer.Step(grad);
                state.LossScaleLog2 += LossScale.GrowthFor(state.Precision);
                return loss;
            }
            if (state.LossScaleLog2 < 1)
                throw new InvalidOperationException(FormattableString.Invariant(
                    $"step {state.Step}: the gradients are not finite at `Precision` {state.Precision} with loss scale 2^{state.LossScaleLog2:0.###} (loss {loss:G6}): the run diverged; resume from an earlier checkpoint with a smaller `LearningRate` or in fp32"));
            state.LossScaleLog2 -= 1;
        }
    }

    /// <summary>The losses of the step's micro-batches and their backward (times <paramref name="lossScale"/>); returns the mean loss over the global batch.</summary>
    private static double ForwardBackward(TrainingState state, TrainingOptions o, TrainingBatch batch, GradientSync sync, int scales, double lossScale)
    {
        long seed = StepSeed(o.Seed, state.Step);
        using var gen = new Generator(unchecked((ulong)seed));
        manual_seed(seed ^ 0x2545F4914F6CDD1DL);                       // dropout masks (global RNG) of this step
        var ect = o.Ect with { Stage = o.EctStage(state.Step), SigmaData = state.Online.Config.SigmaData };

        var config = state.Online.Config;
        var edm = new EdmLoss(WeightSchedule: o.ResolvedWeightSchedule, SigmaData: config.SigmaData);
        var consistency = new ConsistencyLoss(o.LossNorm, o.ResolvedWeightSchedule, o.Perceptual, config.SigmaMin, config.SigmaMax, config.Rho, config.SigmaData);
        int bs = batch.BatchSize, c = batch.Channels, s = batch.ImageSize;
        var x = tensor(batch.Images, [bs, c, s, s]).to(state.Device);
        var y = config.ClassCond ? tensor(batch.Labels).to(state.Device) : null;
        int micro = o.Microbatch == -1 ? bs : o.Microbatch;
        var (lo, hi) = Communicators.Share(bs, sync.World.Rank, sync.World.Size);     // this rank's rows of the global batch
        foreach (var p in state.NetworkParameters) p.grad = null;
        double lossTotal = 0;
        for (int i = 0; i < bs; i += micro)
        {
            int n = Math.Min(micro, bs - i);
            using var microScope = NewDisposeScope();
            // The draws cover the whole micro-batch on every rank, so each row gets the same randoms as in one process.
            Tensor noise, drawn;
            if (o.Mode == TrainingMode.EasyConsistencyTuning)
            {
                drawn = randn([n, 1, 1, 1], generator: gen);                       // ECMLoss's order: rnd_normal, then ε
                noise = randn([n, c, s, s], generator: gen);
            }
            else
            {
                noise = randn([n, c, s, s], generator: gen);
                drawn = o.Mode == TrainingMode.Edm ? edm.Sigmas(randn([n], generator: gen)) : NoiseLevelPairs.Draw(o.IndexSampling, consistency, n, scales, gen);
            }
            int a = Math.Max(i, lo), b = Math.Min(i + n, hi);
            if (a >= b) continue;
            var xm = x[a..b];
            var ym = y?[a..b];
            var noiseM = noise[(a - i)..(b - i)].to(state.Device);
            var drawnM = drawn[(a - i)..(b - i)];
            Tensor loss = o.Mode switch
            {
                TrainingMode.Edm => edm.Compute(xm, noiseM, drawnM.to(state.Device), Online(state, ym)),
                TrainingMode.EasyConsistencyTuning => ect.Compute(xm, drawnM.to(state.Device), noiseM, Online(state, ym)),
                _ => consistency.Compute(xm, noiseM, drawnM, scales, Online(state, ym), Frozen(state.Target!, state.OnlineScalings, ym),
                                         state.Teacher is null || o.Mode == TrainingMode.ConsistencyTraining ? null : Frozen(state.Teacher, state.TeacherScalings, ym)),
            };
            // Micro-batch means add up, as upstream; a rank holding part of a micro-batch adds its rows' share of the mean.
            var part = b - a == n ? loss.mean() : loss.sum() / n;
            (lossScale == 1 ? part : part * lossScale).backward();
            lossTotal += part.item<float>() * n / bs;
        }
        sync.SumGradients(state.NetworkParameters);
        return sync.Sum(lossTotal);
    }

    /// <summary>The seed of every random draw of step <paramref name="step"/>: SplitMix64 of (seed, step).</summary>
    public static long StepSeed(long seed, long step) =>
        (long)(SplitMix64.Mix(unchecked((ulong)seed * SplitMix64.Golden + (ulong)step)) & 0x7FFF_FFFF_FFFF_FFFFUL);

    private static Denoiser Online(TrainingState state, Tensor? y) =>
        state.OnlineScalings.AsDenoiser((xi, t, yi) => state.Online.call(xi, t, yi), y, clipDenoised: false);

    private static Denoiser Frozen(UNetModel m, KarrasDenoiser scalings, Tensor? y) => scalings.AsDenoiser((xi, t, yi) =>
    {
        using var _ = no_grad();
        return m.call(xi, t, yi);
    }, y, clipDenoised: false);
}
