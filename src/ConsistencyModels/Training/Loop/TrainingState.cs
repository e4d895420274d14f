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
                          Tensor? flatParameters, Tensor? flatTarget)
    {
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
    /// <summary>The online network's parameters, the order of the EMA copies and of the optimiser state.</summary>
    public IReadOnlyList<Tensor> Parameters { get; }
    public KarrasDenoiser OnlineScalings { get; }
    /// <summary>θ⁻ of CD/CT, an EMA of the online network at rate μ(k); null for EDM.</summary>
    public UNetModel? Target { get; }
    /// <summary>The frozen EDM teacher when a teacher checkpoint was given (CD; CT only initialises from it).</summary>
    public UNetModel? Teacher { get; }
    public KarrasDenoiser TeacherScalings { get; }
    public IReadOnlyList<EmaWeights> Emas { get; }
    public RAdam Optimizer { get; }
    /// <summary>The buffer the online parameters are views of (<see cref="TrainingOptions.FlatParameters"/>), else null.</summary>
    public Tensor? FlatParameters { get; }
    /// <summary>The buffer the target's parameters are views of, in the same layout, else null.</summary>
    public Tensor? FlatTarget { get; }
    /// <summary>Optimisation steps taken: the next step is this one.</summary>
    public long Step { get; internal set; }

    /// <summary>The networks of a new run of <paramref name="options"/> (every random draw from options.Seed).</summary>
    public static TrainingState Create(TrainingOptions options, Device device, Action<string> log)
    {
        var config = options.OnlineModel;
        if (device.type == DeviceType.CPU && Runtime.TorchRuntime.EnsureSoundCpuConvolutions() is { } fault) log(fault);
        manual_seed(options.Seed);
        var online = new UNetModel(config);
        online.to(device).train();
        if (options.ChannelsLast) online.ConvertTorso(ScalarType.Float32, channelsLast: true);
        var parameters = online.parameters().ToArray();

        var teacherConfig = (options.TeacherModel ?? config) with { Denoiser = DenoiserKind.Edm };
        UNetModel? teacher = null;
        if (options.TeacherPath is { } tp)
        {
            teacher = Load(teacherConfig, tp, device);
            teacher.eval();
            if (options.ChannelsLast) teacher.ConvertTorso(ScalarType.Float32, channelsLast: true);
            foreach (var p in teacher.parameters()) p.requires_grad = false;
            // Upstream copies the teacher's weights into the online network whenever a teacher is given (cm_train.py).
            if (SameShapes(teacher, online))
                using (no_grad()) foreach (var (dst, src) in parameters.Zip(teacher.parameters())) dst.copy_(src);
            else if (options.Mode == TrainingMode.EasyConsistencyTuning)
                throw new ArgumentException($"easy consistency tuning fine-tunes its teacher, but '{tp}' does not have the online network's architecture ({config.ImageSize}px, {config.NumChannels} channels)");
            else log("teacher architecture differs from the online network: online weights stay randomly initialised");
            // ECT's only use of the teacher is the initialisation: its target is the online network itself.
            if (options.Mode == TrainingMode.EasyConsistencyTuning) { teacher.Dispose(); teacher = null; }
        }
        bool flat = options.FlatParameters && !options.ChannelsLast;
        var layout = flat ? FlatLayout.Of(parameters) : null;
        var flatParameters = layout?.Adopt(parameters);
        UNetModel? target = null;
        Tensor? flatTarget = null;
        if (options.HasTarget)
        {
            target = new UNetModel(config);
            target.to(device).train();
            if (options.ChannelsLast) target.ConvertTorso(ScalarType.Float32, channelsLast: true);
            using (no_grad())
                foreach (var (dst, src) in target.parameters().Zip(parameters)) { dst.copy_(src); dst.requires_grad = false; }
            flatTarget = layout?.Adopt(target.parameters().ToArray());
        }
        var emas = new List<EmaWeights>();
        EmaWeights Copy(double rate, double? kimg, double? rampup)
        {
            if (layout is null) return new(rate, [.. parameters.Select(p => p.detach().clone())], kimg, rampup);
            var buffer = flatParameters!.detach().clone().DetachFromDisposeScope();
            return new(rate, layout.Views(buffer), kimg, rampup, buffer);
        }
        using (no_grad())
        {
            foreach (var rate in options.EmaRates) emas.Add(Copy(rate, null, null));
            if (options.EmaHalfLifeKimg is double kimg) emas.Add(Copy(double.NaN, kimg, options.EmaRampupRatio));
        }
        var optimizer = new RAdam(parameters, new RAdamOptions(options.LearningRate, WeightDecay: options.WeightDecay), flatParameters);
        return new TrainingState(device, online, parameters, KarrasDenoiser.FromConfig(options.TrainingModel), target, teacher,
                                 KarrasDenoiser.FromConfig(teacherConfig), emas, optimizer, flatParameters, flatTarget);
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
        FlatParameters?.Dispose(); FlatTarget?.Dispose();
    }
}
