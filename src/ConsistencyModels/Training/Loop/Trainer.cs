// The training loop of EDM teachers, CD and CT — port of cm/train_util.py::CMTrainLoop / TrainLoop (reference §6.1).
using ConsistencyModels.Distributed;
using ConsistencyModels.Nn;
using ConsistencyModels.Data;
using ConsistencyModels.IO;
using static TorchSharp.torch;

namespace ConsistencyModels.Training;

/// <summary>How a run ended: at <see cref="Step"/>, whose checkpoint is on disk (<see cref="Checkpoint"/>, its train_state file; null at step 0).</summary>
public sealed record TrainingEnd(long Step, bool Interrupted, string? Checkpoint);

/// <summary>
/// One training run: the <see cref="TrainingState"/> of <see cref="TrainingOptions"/>, stepped by <see cref="TrainingStep"/>
/// on the batches of <see cref="BatchLoader"/>, logged to log.csv and saved by <see cref="TrainingCheckpoints"/>. The
/// batch of step k depends only on (data, seed, k) and its randoms only on (seed, k): a run resumed from the checkpoint
/// of step k continues bit-identically. Data-parallel over MPI ranks (<see cref="GradientSync"/>); rank 0 alone writes
/// checkpoints and logs. The loop alone decides where a run ends and saves there.
/// </summary>
public sealed class Trainer : IDisposable
{
    private readonly ITrainingDataset _data;
    private readonly Action<string> _log;
    private readonly GradientSync _sync;

    public TrainingOptions Options { get; }
    public TrainingState State { get; }
    public long Step => State.Step;
    /// <summary>The step this run stops at: Schedule.TotalSteps, or MaxSteps past the step it started from.</summary>
    public long EndStep { get; }

    public Trainer(TrainingOptions options, ITrainingDataset data, Device? device = null, Action<string>? log = null, ICommunicator? world = null)
    {
        options.Validate();
        Options = options;
        var comm = world ?? SingleProcess.Instance;
        if (options.GlobalBatchSize < comm.Size)
            throw new ArgumentException($"global batch {options.GlobalBatchSize} is smaller than the {comm.Size} ranks: each rank needs at least one image");
        _data = data;
        _log = log ?? (_ => { });
        _sync = new GradientSync(comm);
        CheckData(options.OnlineModel, data);

        // A save killed half-way (power cut, SIGKILL) leaves its temporary file behind: no writer is at work here now.
        if (comm.IsRoot && AtomicFile.RemoveOrphans(options.OutputDirectory) is { Count: > 0 } orphans)
            _log($"removed {orphans.Count} temporary file(s) left by an interrupted save in {options.OutputDirectory}");
        State = TrainingState.Create(options, device ?? CPU, _log);
        if (options.Resume && TrainingCheckpoints.Latest(options.OutputDirectory) is long step)
        {
            TrainingCheckpoints.Load(State, options, step);
            _log($"resumed from step {step} ({options.OutputDirectory})");
        }
        _sync.Broadcast(State.Weights);
        State.CopyToNetworks();                      // mixed precision: the networks from the (broadcast, resumed) masters
        long total = options.Schedule.TotalSteps;
        EndStep = Math.Min(total, options.MaxSteps is long m ? Step + m : total);
    }

    /// <summary>
    /// Steps to <see cref="EndStep"/>, saving at every SaveInterval; stops early when <paramref name="cancel"/> fires.
    /// Either way it saves the step it stops at, so the returned step is the last checkpoint.
    /// </summary>
    public TrainingEnd Run(CancellationToken cancel = default, params ITrainingObserver[] observers)
    {
        var o = Options;
        long total = o.Schedule.TotalSteps, end = EndStep, first = Step;
        long? saved = first > 0 ? first : null;                     // the checkpoint on disk: the resumed one, then each save
        using var loader = new BatchLoader(_data, o.GlobalBatchSize, o.Seed, o.RandomFlip, Step, warn: _log);
        bool root = _sync.World.IsRoot;
        using var csv = root ? TrainingLog.Open(o.OutputDirectory, Step) : null;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        double lossAcc = 0; int lossCount = 0; long windowStart = Step; var window = System.Diagnostics.Stopwatch.StartNew();
        int scales = 0; double ema = 0;
        void Save()
        {
            if (root)
            {
                TrainingCheckpoints.Save(State, o);
                var p = new TrainingProgress(Step, total, Step - first, end - first, double.NaN, scales, ema, 0, clock.Elapsed, TrainingCheckpoints.State(o.OutputDirectory, Step));
                foreach (var observer in observers) observer.OnSave(p, State);
            }
            saved = Step;
        }
        // Every rank stops at the same step when any rank is told to (their next allreduce would wait forever).
        bool Stop() => _sync.Sum(cancel.IsCancellationRequested ? 1 : 0) > 0;
        while (Step < end && !Stop())
        {
            (double loss, scales, ema) = TrainStep(loader.Next());
            lossAcc += loss; lossCount++;
            bool save = Step % o.SaveInterval == 0 || Step == end;
            if (Step % o.LogInterval == 0 || save)
            {
                double ips = (Step - windowStart) * o.GlobalBatchSize / Math.Max(window.Elapsed.TotalSeconds, 1e-9);
                csv?.Append(Step, lossAcc / lossCount, scales, ema, ips, clock.Elapsed);
                var p = new TrainingProgress(Step, total, Step - first, end - first, lossAcc / lossCount, scales, ema, ips, clock.Elapsed);
                foreach (var observer in observers) observer.OnLog(p);
                lossAcc = 0; lossCount = 0; windowStart = Step; window.Restart();
            }
            if (save) Save();
        }
        bool interrupted = Step < end;
        if (interrupted && Step > first && saved != Step) Save();
        return new TrainingEnd(Step, interrupted, saved is long s ? TrainingCheckpoints.State(o.OutputDirectory, s) : null);
    }

    /// <summary>One optimisation step on <paramref name="batch"/> (which must be the batch of the current step).</summary>
    public TrainingStepResult TrainStep(TrainingBatch batch) => TrainingStep.Run(State, Options, batch, _sync);

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

    public void Dispose() => State.Dispose();
}
