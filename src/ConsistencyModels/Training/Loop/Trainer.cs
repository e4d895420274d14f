// The training loop of EDM teachers, CD and CT — port of cm/train_util.py::CMTrainLoop / TrainLoop (reference §6.1).
using ConsistencyModels.Presets;
using ConsistencyModels.Diffusion;
using ConsistencyModels.Distributed;
using ConsistencyModels.IO;
using ConsistencyModels.IO.Checkpoints;
using ConsistencyModels.Nn;
using ConsistencyModels.Training.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace ConsistencyModels.Training;

public sealed record TrainingProgress(long Step, long TotalSteps, long RunStep, long RunSteps, double Loss, int Scales, double TargetEma,
                                      double ImagesPerSecond, TimeSpan Elapsed, string? Saved = null);

/// <summary>
/// One training run: online network, its EMA copies, the target network (CD/CT), the frozen teacher (CD) and RAdam.
/// Every random draw of step k comes from generators seeded with (seed, k), and the batch of step k depends only on
/// (data, seed, k): a run resumed from the checkpoint of step k continues bit-identically.
/// Data-parallel over MPI ranks (<see cref="ICommunicator"/>): every rank draws the randoms of the whole global batch and
/// computes its contiguous share of the rows, gradients are summed over ranks, so N ranks give the same step as one
/// process with the whole batch (to float rounding). Rank 0 alone writes checkpoints, logs and grids.
/// </summary>
public sealed class Trainer : IDisposable
{
    private readonly TrainingOptions _o;
    private readonly ITrainingDataset _data;
    private readonly Device _device;
    private readonly Action<string> _log;
    private readonly UNetModel _model;
    private readonly UNetModel? _target;
    private readonly UNetModel? _teacher;
    private readonly List<(double Rate, Tensor[] Params)> _emas = [];
    private readonly RAdam _opt;
    private readonly Tensor[] _params;
    private readonly KarrasDenoiser _pre, _teacherPre;
    private readonly ICommunicator _world;
    private float[]? _bucket;                                          // gradient staging for the MPI allreduce

    public long Step { get; private set; }
    public UNetModel Model => _model;

    public Trainer(TrainingOptions options, ITrainingDataset data, Device? device = null, Action<string>? log = null, ICommunicator? world = null)
    {
        options.Validate();
        _o = options;
        _world = world ?? SingleProcess.Instance;
        if (options.GlobalBatchSize < _world.Size)
            throw new ArgumentException($"global batch {options.GlobalBatchSize} is smaller than the {_world.Size} ranks: each rank needs at least one image");
        _data = data;
        _device = device ?? CPU;
        _log = log ?? (_ => { });
        var config = options.OnlineModel;
        CheckData(config, data);

        manual_seed(options.Seed);
        _model = new UNetModel(config);
        _model.to(_device).train();
        if (options.ChannelsLast) _model.ConvertTorso(ScalarType.Float32, channelsLast: true);
        _params = [.. _model.parameters()];
        _pre = KarrasDenoiser.FromConfig(config);

        var teacherConfig = options.TeacherModel ?? (config with { Denoiser = DenoiserKind.Edm });
        _teacherPre = KarrasDenoiser.FromConfig(teacherConfig with { Denoiser = DenoiserKind.Edm });
        if (options.TeacherPath is { } tp)
        {
            _teacher = LoadModel(teacherConfig with { Denoiser = DenoiserKind.Edm }, tp);
            _teacher.eval();
            if (options.ChannelsLast) _teacher.ConvertTorso(ScalarType.Float32, channelsLast: true);
            foreach (var p in _teacher.parameters()) p.requires_grad = false;
            // Upstream copies the teacher's weights into the online network whenever a teacher is given (cm_train.py).
            if (SameShapes(_teacher, _model))
                using (no_grad()) foreach (var (dst, src) in _params.Zip(_teacher.parameters())) dst.copy_(src);
            else _log($"teacher architecture differs from the online network: online weights stay randomly initialised");
        }
        if (options.Mode != TrainingMode.Edm)
        {
            _target = new UNetModel(config);
            _target.to(_device).train();
            if (options.ChannelsLast) _target.ConvertTorso(ScalarType.Float32, channelsLast: true);
            using (no_grad())
                foreach (var (dst, src) in _target.parameters().Zip(_params)) { dst.copy_(src); dst.requires_grad = false; }
        }
        using (no_grad())
            foreach (var rate in options.EmaRates) _emas.Add((rate, [.. _params.Select(p => p.detach().clone())]));
        _opt = new RAdam(_params, new RAdamOptions(options.LearningRate, WeightDecay: options.WeightDecay));

        if (options.Resume && TrainingCheckpoints.Latest(options.OutputDirectory) is long step) LoadCheckpoint(step);
        if (_world.Size > 1) BroadcastParameters();
    }

    /// <summary>Rank 0's parameters (and EMA copies) to every rank: all ranks start from the same weights.</summary>
    private void BroadcastParameters()
    {
        foreach (var t in _params.Concat(_emas.SelectMany(e => e.Params)))
        {
            if (t.dtype != ScalarType.Float32) throw new NotSupportedException($"broadcasting {t.dtype} parameters is not supported (training runs in fp32)");
            using var cpu = t.detach().cpu().contiguous();
            var values = cpu.data<float>().ToArray();
            _world.Broadcast(System.Runtime.InteropServices.MemoryMarshal.AsBytes(values.AsSpan()));
            using (no_grad()) using (var received = torch.tensor(values).reshape(t.shape)) t.copy_(received);
        }
    }

    /// <summary>Sums the gradients over ranks, in buckets of up to 16M floats (few large MPI calls).</summary>
    private void AllreduceGradients()
    {
        var grads = _params.Select(p => p.grad).OfType<Tensor>().ToArray();
        // One staging buffer for the whole run: a step allocates nothing of gradient size.
        _bucket ??= new float[Math.Max(1 << 24, grads.Max(g => g.numel()))];
        var pending = new List<Tensor>();
        int filled = 0;
        void Flush()
        {
            _world.AllreduceSum(_bucket.AsSpan(0, filled));
            int offset = 0;
            foreach (var g in pending)
            {
                int n = (int)g.numel();
                var summed = (ReadOnlySpan<float>)_bucket.AsSpan(offset, n);
                if (g.device_type == DeviceType.CPU && g.dtype == ScalarType.Float32 && g.is_contiguous()) g.data<float>().CopyFrom(summed, 0, 0);
                else
                {
                    using var staged = zeros(g.shape, ScalarType.Float32);
                    staged.data<float>().CopyFrom(summed, 0, 0);
                    using (no_grad()) g.copy_(staged);
                }
                offset += n;
            }
            pending.Clear();
            filled = 0;
        }
        foreach (var g in grads)
        {
            int n = (int)g.numel();
            if (filled + n > _bucket.Length) Flush();
            using (var cpu = g.detach().to(ScalarType.Float32, CPU).contiguous()) cpu.data<float>().CopyTo(_bucket.AsSpan(filled, n), 0, 0);
            pending.Add(g);
            filled += n;
        }
        if (filled > 0) Flush();
    }

    /// <summary>Runs until Schedule.TotalSteps or MaxSteps more steps; saves at every SaveInterval and at the end.</summary>
    public void Run(IProgress<TrainingProgress>? progress = null, CancellationToken cancel = default)
    {
        long total = _o.Schedule.TotalSteps;
        long end = Math.Min(total, _o.MaxSteps is long m ? Step + m : total);
        long first = Step;
        using var loader = new BatchLoader(_data, _o.GlobalBatchSize, _o.Seed, _o.RandomFlip, Step, warn: _log);
        bool root = _world.IsRoot;
        using var csv = root ? TrainingLog.Open(_o.OutputDirectory, Step) : null;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        double lossAcc = 0; int lossCount = 0; long windowStart = Step; var window = System.Diagnostics.Stopwatch.StartNew();
        while (Step < end && !cancel.IsCancellationRequested)
        {
            var (loss, scales, ema) = TrainStep(loader.Next());
            lossAcc += loss; lossCount++;
            bool save = Step % _o.SaveInterval == 0 || Step == end;
            if (Step % _o.LogInterval == 0 || save)
            {
                double ips = (Step - windowStart) * _o.GlobalBatchSize / Math.Max(window.Elapsed.TotalSeconds, 1e-9);
                csv?.Append(Step, lossAcc / lossCount, scales, ema, ips, clock.Elapsed);
                progress?.Report(new(Step, total, Step - first, end - first, lossAcc / lossCount, scales, ema, ips, clock.Elapsed));
                lossAcc = 0; lossCount = 0; windowStart = Step; window.Restart();
            }
            if (save && root)
            {
                SaveCheckpoint();
                progress?.Report(new(Step, total, Step - first, end - first, double.NaN, scales, ema, 0, clock.Elapsed, TrainingCheckpoints.State(_o.OutputDirectory, Step)));
            }
        }
        if (cancel.IsCancellationRequested && Step % _o.SaveInterval != 0) _log($"stopped at step {Step}; the last checkpoint is step {Step / _o.SaveInterval * _o.SaveInterval}");
    }

    /// <summary>One optimisation step on <paramref name="batch"/> (which must be the batch of the current step).</summary>
    public (double Loss, int Scales, double TargetEma) TrainStep(TrainingBatch batch)
    {
        if (batch.Step != Step) throw new InvalidOperationException($"batch of step {batch.Step} given at step {Step}");
        using var scope = NewDisposeScope();
        long seed = StepSeed(_o.Seed, Step);
        using var gen = new Generator(unchecked((ulong)seed));
        manual_seed(seed ^ 0x2545F4914F6CDD1DL);                       // dropout masks (global RNG) of this step
        var (targetEma, scales) = _o.Mode == TrainingMode.Edm ? (0.0, 0) : EmaAndScales.At(_o.Schedule, Step);

        int bs = batch.BatchSize, c = batch.Channels, s = batch.ImageSize;
        var x = tensor(batch.Images, [bs, c, s, s]).to(_device);
        var y = _model.Config.ClassCond ? tensor(batch.Labels).to(_device) : null;
        int micro = _o.Microbatch == -1 ? bs : _o.Microbatch;
        var (lo, hi) = Communicators.Share(bs, _world.Rank, _world.Size);     // this rank's rows of the global batch
        _opt.ZeroGrad();
        double lossTotal = 0;
        for (int i = 0; i < bs; i += micro)
        {
            int n = Math.Min(micro, bs - i);
            using var microScope = NewDisposeScope();
            // The draws cover the whole micro-batch on every rank, so each row gets the same randoms as in one process.
            var noise = randn([n, c, s, s], generator: gen);
            var drawn = _o.Mode == TrainingMode.Edm ? new EdmLoss().Sigmas(randn([n], generator: gen)) : Indices(n, scales, gen);
            int a = Math.Max(i, lo), b = Math.Min(i + n, hi);
            if (a >= b) continue;
            var xm = x[a..b];
            var ym = y?[a..b];
            var noiseM = noise[(a - i)..(b - i)].to(_device);
            var drawnM = drawn[(a - i)..(b - i)];
            Tensor loss = _o.Mode switch
            {
                TrainingMode.Edm => new EdmLoss(WeightSchedule: _o.ResolvedWeightSchedule, SigmaData: _model.Config.SigmaData)
                    .Compute(xm, noiseM, drawnM.to(_device), Online(ym)),
                _ => new ConsistencyLoss(_o.LossNorm, _o.ResolvedWeightSchedule, _o.Perceptual, _model.Config.SigmaMin, _model.Config.SigmaMax,
                                         _model.Config.Rho, _model.Config.SigmaData)
                    .Compute(xm, noiseM, drawnM, scales, Online(ym), Frozen(_target!, _pre, ym),
                             _teacher is null || _o.Mode == TrainingMode.ConsistencyTraining ? null : Frozen(_teacher, _teacherPre, ym)),
            };
            // Micro-batch means add up, as upstream; a rank holding part of a micro-batch adds its rows' share of the mean.
            var part = b - a == n ? loss.mean() : loss.sum() / n;
            part.backward();
            lossTotal += part.item<float>() * n / bs;
        }
        if (_world.Size > 1)
        {
            AllreduceGradients();
            var total = new[] { lossTotal };
            _world.AllreduceSum(total);
            lossTotal = total[0];
        }
        _opt.Step();
        foreach (var (rate, ema) in _emas) Ema.Update(ema, _params, rate);
        if (_target is not null) Ema.Update(_target, _model, targetEma);
        Step++;
        return (lossTotal, scales, targetEma);
    }

    private Denoiser Online(Tensor? y) => _pre.AsDenoiser((xi, t, yi) => _model.call(xi, t, yi), y, clipDenoised: false);

    private static Denoiser Frozen(UNetModel m, KarrasDenoiser pre, Tensor? y) => pre.AsDenoiser((xi, t, yi) =>
    {
        using var _ = no_grad();
        return m.call(xi, t, yi);
    }, y, clipDenoised: false);

    private Tensor Indices(int n, int scales, Generator gen)
    {
        if (_o.IndexSampling == IndexSampling.Uniform) return randint(0, scales - 1, [n], dtype: ScalarType.Int64, generator: gen);
        using var probs = LogNormalIndexProbabilities(scales);
        return multinomial(probs, n, replacement: true, generator: gen);
    }

    /// <summary>iCT's discretised lognormal over the pairs (σ(n), σ(n+1)), n = 0..N−2, P_mean −1.1, P_std 2.0.</summary>
    public Tensor LogNormalIndexProbabilities(int scales, double pMean = -1.1, double pStd = 2.0)
    {
        var cl = new ConsistencyLoss(SigmaMin: _model.Config.SigmaMin, SigmaMax: _model.Config.SigmaMax, Rho: _model.Config.Rho);
        using var idx = arange(0L, scales - 1, dtype: ScalarType.Int64);
        var (t, t2) = cl.Sigmas(idx, scales);
        using (t) using (t2)
        {
            using var hi = special.erf((t.log() - pMean) / (Math.Sqrt(2) * pStd));
            using var lo = special.erf((t2.log() - pMean) / (Math.Sqrt(2) * pStd));
            using var p = (hi - lo).to(ScalarType.Float64);
            return (p / p.sum()).clamp_min(0);
        }
    }

    public static long StepSeed(long seed, long step) // SplitMix64 of (seed, step), made non-negative
        => (long)(SplitMix64.Mix(unchecked((ulong)seed * SplitMix64.Golden + (ulong)step)) & 0x7FFF_FFFF_FFFF_FFFFUL);

    // ---- checkpoints --------------------------------------------------------------------------------------------

    public void SaveCheckpoint()
    {
        string dir = _o.OutputDirectory;
        Directory.CreateDirectory(dir);
        var keys = _model.state_dict().Keys.ToList();
        TorchCheckpoint.Save(TrainingCheckpoints.Model(dir, Step), _model.state_dict());
        foreach (var (rate, ema) in _emas) TorchCheckpoint.Save(TrainingCheckpoints.Ema(dir, rate, Step), keys.Zip(ema, KeyValuePair.Create));
        if (_target is not null) TorchCheckpoint.Save(TrainingCheckpoints.Target(dir, Step), _target.state_dict());
        RAdamCheckpoint.Save(TrainingCheckpoints.Optimizer(dir, Step), _opt);
        AtomicFile.Write(TrainingCheckpoints.Config(dir), s =>
        {
            using var w = new StreamWriter(s);
            w.Write(ModelConfigJson.ToJson(_model.Config));
        });
        if (_o.SampleGridColumns > 0) TrainingSamples.Write(this, TrainingCheckpoints.Samples(dir, Step));
        try { TrainingPlots.Write(dir, _o.Mode.ToString()); }
        catch (Exception e) when (e is IOException or TypeInitializationException or DllNotFoundException) { _log($"warning: plots not written: {e.Message}"); }
        TrainingCheckpoints.WriteState(dir, new TrainingState(Step, _o.Mode.ToString(), _o.Seed, _o.GlobalBatchSize, _o.EmaRates,
                                                               ModelConfigJson.ToJson(_model.Config, indented: false)));
    }

    private void LoadCheckpoint(long step)
    {
        string dir = _o.OutputDirectory;
        var state = TrainingCheckpoints.ReadState(dir, step);
        var mine = ModelConfigJson.ToJson(_model.Config, indented: false);
        if (state.ModelConfigJson != mine)
            throw new InvalidOperationException($"--resume: {TrainingCheckpoints.State(dir, step)} was written for model {state.ModelConfigJson}, not {mine}");
        if (state.Mode != _o.Mode.ToString()) throw new InvalidOperationException($"--resume: the checkpoints in {dir} are from a {state.Mode} run, not {_o.Mode}");
        LoadInto(_model, TrainingCheckpoints.Model(dir, step));
        if (_target is not null) LoadInto(_target, TrainingCheckpoints.Target(dir, step));
        foreach (var (rate, ema) in _emas)
        {
            var path = TrainingCheckpoints.Ema(dir, rate, step);
            var sd = TorchCheckpoint.LoadStateDict(path);
            try
            {
                var keys = _model.state_dict().Keys.ToList();
                using (no_grad()) for (int i = 0; i < keys.Count; i++) ema[i].copy_(sd[keys[i]]);
            }
            finally { foreach (var t in sd.Values) t.Dispose(); }
        }
        RAdamCheckpoint.Load(TrainingCheckpoints.Optimizer(dir, step), _opt);
        Step = step;
        _log($"resumed from step {step} ({dir})");
    }

    private static void LoadInto(UNetModel m, string path)
    {
        var sd = TorchCheckpoint.LoadStateDict(path);
        try { ModelWeights.LoadInto(m, sd, path, m.Config); }
        finally { foreach (var t in sd.Values) t.Dispose(); }
    }

    private UNetModel LoadModel(ModelConfig config, string path)
    {
        var sd = CheckpointFile.LoadStateDict(path);
        try
        {
            var m = new UNetModel(config, META);
            ModelWeights.Materialize(m, sd, path);
            m.to(_device);
            return m;
        }
        finally { foreach (var t in sd.Values) t.Dispose(); }
    }

    /// <summary>An EMA copy (the smallest rate: the most useful early in training) as a fresh UNet for sampling.</summary>
    internal UNetModel EmaModel()
    {
        var m = new UNetModel(_model.Config);
        var keys = _model.state_dict().Keys.ToList();
        var ema = _emas.Count > 0 ? _emas.MinBy(e => e.Rate).Params : _params;
        ModelWeights.LoadInto(m, keys.Zip(ema).ToDictionary(kv => kv.First, kv => kv.Second), "EMA", m.Config);
        return m;
    }

    internal TrainingOptions Options => _o;
    internal int NumClasses => _model.Config.ClassCond ? _data.NumClasses ?? 0 : 0;

    private static bool SameShapes(UNetModel a, UNetModel b) =>
        a.state_dict().Select(kv => (kv.Key, string.Join(",", kv.Value.shape)))
         .SequenceEqual(b.state_dict().Select(kv => (kv.Key, string.Join(",", kv.Value.shape))));

    private static void CheckData(ModelConfig config, ITrainingDataset data)
    {
        if (data.Count == 0) throw new ArgumentException("the training data holds no samples");
        if (data.Channels != config.InChannels)
            throw new ArgumentException($"the data has {data.Channels} channel(s), the model expects in_channels {config.InChannels}");
        if (data.ImageSize != config.ImageSize)
            throw new ArgumentException($"the data is {data.ImageSize}x{data.ImageSize}, the model expects image_size {config.ImageSize}");
        if (config.ClassCond && data.NumClasses is null)
            throw new ArgumentException("the model is class-conditional but the data has no labels");
        if (config.ClassCond && data.NumClasses > config.ResolvedNumClasses)
            throw new ArgumentException($"the data has {data.NumClasses} classes, the model {config.ResolvedNumClasses}");
    }

    public void Dispose()
    {
        _model.Dispose(); _target?.Dispose(); _teacher?.Dispose(); _opt.Dispose();
        foreach (var (_, ema) in _emas) foreach (var t in ema) t.Dispose();
    }
}
