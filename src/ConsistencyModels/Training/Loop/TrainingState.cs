// What a run carries from step to step, as NVlabs/edm's training_loop keeps net, ema and optimizer: the online network,
// its EMA copies, the target (CD/CT) and frozen teacher (CD) networks, RAdam and the step — built as cm/train_util.py does.
using ConsistencyModels.Presets;
using ConsistencyModels.Diffusion;
using ConsistencyModels.IO;
using ConsistencyModels.IO.Checkpoints;
using ConsistencyModels.Nn;
using TorchSharp;
using static TorchSharp.torch;

namespace ConsistencyModels.Training;

/// <summary>
/// One EMA copy of the online parameters, in <see cref="TrainingState.Parameters"/> order: at a fixed
/// <see cref="Rate"/>, or (with <see cref="HalfLifeKimg"/>) NVlabs/edm's half-life EMA with ramp-up.
/// </summary>
/// <param name="Flat">The buffer <see cref="Parameters"/> are views of, when the run keeps flat parameters.</param>
public sealed record EmaWeights(double Rate, Tensor[] Parameters, double? HalfLifeKimg = null, double? RampupRatio = null, Tensor? Flat = null)
{
    /// <summary>The decay of the update after <paramref name="step"/> steps of <paramref name="batchSize"/> images.</summary>
    public double Beta(long step, int batchSize) => HalfLifeKimg is double kimg
        ? Ema.HalfLifeBeta(batchSize, step * batchSize, kimg * 1000, RampupRatio)
        : Rate;
}

public sealed class TrainingState : IDisposable
{
    private TrainingState(Device device, UNetModel online, Tensor[] parameters, KarrasDenoiser onlineScalings, UNetModel? target,
                          UNetModel? teacher, KarrasDenoiser teacherScalings, IReadOnlyList<EmaWeights> emas, RAdam optimizer,
                          Tensor? flatParameters, Tensor? flatTarget, Precision precision, Tensor[] networkParameters,
                          Tensor[]? targetParameters, Tensor? masterGradient, Tensor[]? masterGradientViews)
    {
        MasterGradient = masterGradient;
        MasterGradientViews = masterGradientViews;
        Precision = precision;
        NetworkParameters = networkParameters;
        TargetParameters = targetParameters;
        LossScaleLog2 = LossScale.InitialFor(precision);
        FlatParameters = flatParameters;
        FlatTarget = flatTarget;
        Device = device;
        Online = online;
        Parameters = parameters;
        OnlineScalings = onlineScalings;
        Target = target;
        Teacher = teacher;
        TeacherScalings = teacherScalings;
        Emas = emas;
        Optimizer = optimizer;
    }

    public Device Device { get; }
    /// <summary>The network the optimiser trains.</summary>
    public UNetModel Online { get; }
    /// <summary>
    /// The weights the optimiser trains, in the online network's parameter order (that of the EMA copies, the optimiser
    /// state and the checkpoints): the network's own parameters in fp32, its fp32 master copies in mixed precision.
    /// </summary>
    public IReadOnlyList<Tensor> Parameters { get; }
    /// <summary>The online network's parameters, where backward leaves the gradients (the same tensors as <see cref="Parameters"/> in fp32).</summary>
    public IReadOnlyList<Tensor> NetworkParameters { get; }
    /// <summary>The target's weights in <see cref="Parameters"/> order (fp32 masters in mixed precision); null without a target.</summary>
    public IReadOnlyList<Tensor>? TargetParameters { get; }
    /// <summary>fp32, or mixed precision: the networks' torsos in bf16/fp16, trained through fp32 master weights.</summary>
    public Precision Precision { get; }
    /// <summary>Mixed precision: the fp32 gradient of a step in the masters' flat layout, refilled each step (no allocation per step).</summary>
    internal Tensor? MasterGradient { get; }
    /// <summary>Views of <see cref="MasterGradient"/>, one per parameter.</summary>
    internal IReadOnlyList<Tensor>? MasterGradientViews { get; }
    /// <summary>lg of the loss scale (<see cref="LossScale"/>): 20 at the start of an fp16 run, 0 otherwise.</summary>
    public double LossScaleLog2 { get; internal set; }
    public KarrasDenoiser OnlineScalings { get; }
    /// <summary>θ⁻ of CD/CT, an EMA of the online network at rate μ(k); null for EDM.</summary>
    public UNetModel? Target { get; }
    /// <summary>The frozen EDM teacher when a teacher checkpoint was given (CD; CT only initialises from it).</summary>
    public UNetModel? Teacher { get; }
    public KarrasDenoiser TeacherScalings { get; }
    public IReadOnlyList<EmaWeights> Emas { get; }
    public RAdam Optimizer { get; }
    /// <summary>The buffer <see cref="Parameters"/> are views of (<see cref="TrainingOptions.FlatParameters"/>; always in mixed precision), else null.</summary>
    public Tensor? FlatParameters { get; }
    /// <summary>The buffer the target's parameters are views of, in the same layout, else null.</summary>
    public Tensor? FlatTarget { get; }
    /// <summary>Optimisation steps taken: the next step is this one.</summary>
    public long Step { get; internal set; }

    /// <summary>The networks of a new run of <paramref name="options"/> (every random draw from options.Seed).</summary>
    public static TrainingState Create(TrainingOptions options, Device device, Action<string> log)
    {
        var config = options.OnlineModel;
        bool mixed = options.Precision != Precision.Fp32;
        var dtype = options.Precision.ToScalarType();
        if (device.type == DeviceType.CPU && Runtime.TorchRuntime.EnsureSoundCpuConvolutions() is { } fault) log(fault);
        manual_seed(options.Seed);
        var online = new UNetModel(config, kernels: options.Kernels);
        online.to(device).train();
        if (options.ChannelsLast) online.ConvertTorso(ScalarType.Float32, channelsLast: true);
        Tensor[] parameters = online.parameters().ToArray();

        var teacherConfig = (options.TeacherModel ?? config) with { Denoiser = DenoiserKind.Edm };
        UNetModel? teacher = null;
        if (options.TeacherPath is { } tp)
        {
            teacher = Load(teacherConfig, tp, device);
            teacher.eval();
            foreach (var p in teacher.parameters()) p.requires_grad = false;
            // Upstream copies the teacher's weights into the online network whenever a teacher is given (cm_train.py).
            if (SameShapes(teacher, online))
                using (no_grad()) foreach (var (dst, src) in parameters.Zip(teacher.parameters())) dst.copy_(src);
            else if (options.Mode == TrainingMode.EasyConsistencyTuning)
                throw new ArgumentException($"easy consistency tuning fine-tunes its teacher, but '{tp}' does not have the online network's architecture ({config.ImageSize}px, {config.NumChannels} channels)");
            else log("teacher architecture differs from the online network: online weights stay randomly initialised");
            // ECT's only use of the teacher is the initialisation: its target is the online network itself.
            if (options.Mode == TrainingMode.EasyConsistencyTuning) { teacher.Dispose(); teacher = null; }
            // The teacher runs in the online network's precision, as upstream converts it with the model (after the copy above).
            else if (options.ChannelsLast || mixed) teacher.ConvertTorso(dtype, options.ChannelsLast);
        }
        var networkParameters = parameters;
        if (mixed)
        {
            // MixedPrecisionTrainer: fp32 master copies (here one flat buffer) are what RAdam, the EMAs and checkpoints
            // see; the network's torso convolutions become bf16/fp16 and are refreshed from the masters after each step.
            using (no_grad()) using (NewDisposeScope())         // the detached and (channels-last) contiguous intermediates
                parameters = [.. parameters.Select(p => p.detach().contiguous().clone().DetachFromDisposeScope())];
            online.ConvertTorso(dtype, options.ChannelsLast);
            networkParameters = online.parameters().ToArray();
        }
        bool flat = mixed || (options.FlatParameters && !options.ChannelsLast);
        var layout = flat ? FlatLayout.Of(parameters) : null;
        var flatParameters = layout?.Adopt(parameters);
        UNetModel? target = null;
        Tensor? flatTarget = null;
        Tensor[]? targetParameters = null;
        if (options.HasTarget)
        {
            target = new UNetModel(config, kernels: options.Kernels);
            target.to(device).train();
            if (options.ChannelsLast && !mixed) target.ConvertTorso(ScalarType.Float32, channelsLast: true);
            using (no_grad())
                foreach (var (dst, src) in target.parameters().Zip(parameters)) { dst.copy_(src); dst.requires_grad = false; }
            if (mixed)
            {
                using (NewDisposeScope()) flatTarget = flatParameters!.detach().clone().DetachFromDisposeScope();
                targetParameters = layout!.Views(flatTarget);
                target.ConvertTorso(dtype, options.ChannelsLast);
                foreach (var p in target.parameters()) p.requires_grad = false;
            }
            else
            {
                targetParameters = target.parameters().ToArray();
                flatTarget = layout?.Adopt(targetParameters);
            }
        }
        var emas = new List<EmaWeights>();
        EmaWeights Copy(double rate, double? kimg, double? rampup)
        {
            if (layout is null) return new(rate, [.. parameters.Select(p => p.detach().clone())], kimg, rampup);
            using var scope = NewDisposeScope();
            var buffer = flatParameters!.detach().clone().DetachFromDisposeScope();
            return new(rate, layout.Views(buffer), kimg, rampup, buffer);
        }
        using (no_grad())
        {
            foreach (var rate in options.EmaRates) emas.Add(Copy(rate, null, null));
            if (options.EmaHalfLifeKimg is double kimg) emas.Add(Copy(double.NaN, kimg, options.EmaRampupRatio));
        }
        var optimizer = new RAdam(parameters, new RAdamOptions(options.LearningRate, WeightDecay: options.WeightDecay), flatParameters);
        var masterGradient = mixed ? layout!.NewBuffer() : null;
        return new TrainingState(device, online, parameters, KarrasDenoiser.FromConfig(options.TrainingModel), target, teacher,
                                 KarrasDenoiser.FromConfig(teacherConfig), emas, optimizer, flatParameters, flatTarget,
                                 options.Precision, networkParameters, targetParameters, masterGradient,
                                 masterGradient is null ? null : layout!.Views(masterGradient));
    }

    /// <summary>
    /// Mixed precision: the networks' parameters from the fp32 masters (online from <see cref="Parameters"/>, target from
    /// <see cref="TargetParameters"/>), rounded to each parameter's type: after a step, a resume or a broadcast. A no-op in fp32.
    /// </summary>
    internal void CopyToNetworks()
    {
        if (Precision == Precision.Fp32) return;
        using var _ = no_grad();
        for (int i = 0; i < Parameters.Count; i++) NetworkParameters[i].copy_(Parameters[i]);
        if (Target is null) return;
        int k = 0;
        foreach (var p in Target.parameters()) p.copy_(TargetParameters![k++]);
    }

    /// <summary>The online parameters and their EMA copies: what every rank must share before the first step.</summary>
    public IEnumerable<Tensor> Weights => Parameters.Concat(Emas.SelectMany(e => e.Parameters));

    /// <summary>An EMA copy (the half-life one, else the smallest rate: the most useful early in training) as a fresh UNet, e.g. for sampling.</summary>
    public UNetModel EmaNetwork()
    {
        var m = new UNetModel(Online.Config);
        var keys = Online.state_dict().Keys.ToList();
        var ema = Emas.FirstOrDefault(e => e.HalfLifeKimg is not null)?.Parameters
                  ?? (Emas.Count > 0 ? Emas.MinBy(e => e.Rate)!.Parameters : [.. Parameters]);
        ModelWeights.LoadInto(m, keys.Zip(ema).ToDictionary(kv => kv.First, kv => kv.Second), "EMA", m.Config);
        return m;
    }

    private static UNetModel Load(ModelConfig config, string path, Device device)
    {
        // A built-in model's name (edm_fmnist32) stands for its embedded weights, so users tune or distil it without a file.
        var sd = !File.Exists(path) && BuiltInModels.TryGet(path, out var builtIn) ? BuiltInModels.LoadStateDict(builtIn!) : CheckpointFile.LoadStateDict(path);
        try
        {
            var m = new UNetModel(config, META);
            ModelWeights.Materialize(m, sd, path);
            m.to(device);
            return m;
        }
        finally { foreach (var t in sd.Values) t.Dispose(); }
    }

    private static bool SameShapes(UNetModel a, UNetModel b) =>
        a.state_dict().Select(kv => (kv.Key, string.Join(",", kv.Value.shape)))
         .SequenceEqual(b.state_dict().Select(kv => (kv.Key, string.Join(",", kv.Value.shape))));

    public void Dispose()
    {
        Online.Dispose(); Target?.Dispose(); Teacher?.Dispose(); Optimizer.Dispose();
        foreach (var ema in Emas) { foreach (var t in ema.Parameters) t.Dispose(); ema.Flat?.Dispose(); }
        if (Precision != Precision.Fp32)
            foreach (var t in Parameters.Concat(TargetParameters ?? []).Concat(MasterGradientViews ?? [])) t.Dispose();   // views of the flat buffers
        FlatParameters?.Dispose(); FlatTarget?.Dispose(); MasterGradient?.Dispose();
    }
}
