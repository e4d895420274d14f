// `cm train edm|cd|ct|ect`: parse options -> TrainingOptions -> Trainer.Run with a progress bar, sample grids and plots; on Ctrl-C or SIGTERM the loop saves and stops (exit 130 / 143).
using System.ComponentModel;
using System.Globalization;
using ConsistencyModels.Cli.Reporting;
using ConsistencyModels.IO;
using ConsistencyModels.Metrics;
using ConsistencyModels.Nn;
using ConsistencyModels.Presets;
using ConsistencyModels.Runtime;
using ConsistencyModels.Training;
using ConsistencyModels.Data;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ConsistencyModels.Cli.Commands;

internal sealed class TrainCommand : Command<TrainCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandArgument(0, "<MODE>"), Description("edm (teacher), cd (consistency distillation from --teacher), ct (consistency training) or ect (easy consistency tuning of an EDM --teacher).")]
        public string Mode { get; init; } = "";

        [CommandOption("--preset <NAME>"), Description("Architecture: fmnist32 (this project's Fashion-MNIST model) or a released one (cd_imagenet64_l2, ...).")]
        public string? Preset { get; init; }

        [CommandOption("--model-config <FILE>"), Description("JSON model config with the official flag names (instead of --preset).")]
        public string? ModelConfig { get; init; }

        [CommandOption("--data <PATH>"), Description("Training images: a folder (recursive jpg/png, ImageNet class from the WNID file-name prefix), IDX files (MNIST/Fashion-MNIST, .gz or not) or an .npz.")]
        public string? Data { get; init; }

        [CommandOption("-o|--output <DIR>"), Description("Run folder: model/ema/target/opt checkpoints in the official layout, log.csv, sample grids.")]
        public string? Output { get; init; }

        [CommandOption("--global-batch-size <N>"), Description("Images per optimisation step (default 64).")]
        public int? GlobalBatchSize { get; init; }

        [CommandOption("--microbatch <N>"), Description("Split each batch into micro-batches of N (gradients add up as upstream; -1 = off, default).")]
        public int? Microbatch { get; init; }

        [CommandOption("--lr <X>"), Description("RAdam learning rate (default 1e-4).")]
        public double? Lr { get; init; }

        [CommandOption("--weight-decay <X>"), Description("RAdam weight decay (default 0).")]
        public double? WeightDecay { get; init; }

        [CommandOption("--ema-rate <LIST>"), Description("EMA rates of the online network, one ema_<rate>_<step>.pt each (default: the recipe's, printed at the start).")]
        public string? EmaRate { get; init; }

        [CommandOption("--ema-halflife-kimg <K>"), Description("Also keep NVlabs/edm's EMA with this half-life in thousands of images (ema_hl<K>kimg_<step>.pt; sample grids use it). Suits short runs, where a fixed 0.999 still holds early weights.")]
        public double? EmaHalflifeKimg { get; init; }

        [CommandOption("--ema-rampup-ratio <R>"), Description("With --ema-halflife-kimg: the half-life is at most R x the images seen so far (default 0.05, as edm).")]
        public double? EmaRampupRatio { get; init; }

        [CommandOption("--loss-norm <NAME>"), Description("cd/ct: l1 | l2 (default) | l2-32 | lpips (needs --lpips-weights) | pseudo-huber (iCT).")]
        public string? LossNorm { get; init; }

        [CommandOption("--lpips-weights <FILE>"), Description("For --loss-norm lpips: one .pt/.safetensors with the VGG16 features and the LPIPS linear weights (layout: see docs/training.md).")]
        public string? LpipsWeights { get; init; }

        [CommandOption("--teacher <FILE>"), Description("EDM teacher checkpoint (required for cd; for ct it only initialises the network, as upstream). For ect also an earlier ECT result (a run's checkpoint or ect_fmnist32), to tune on from it at a smaller gap (a larger -q)")]
        public string? Teacher { get; init; }

        [CommandOption("-q|--q-factor <X>"), Description("ect (ECT's own -q): the gap t - r shrinks q times at each stage (default 16 in one stage, recipe ect-short; --recipe ect: 2; ECT's 1-hour CIFAR-10 run: 256 with one stage).")]
        public double? Q { get; init; }

        [CommandOption("--double <N>"), Description("ect: a new stage every N steps (default: one stage; --recipe ect: an eighth of --total-training-steps, as ECT's 8 stages).")]
        public long? Double { get; init; }

        [CommandOption("--mapping <NAME>"), Description("ect: how t maps to r: sigmoid (default; nearer pairs at small t, k 8, b 1) | const (r = t(1 - q^-(stage+1))).")]
        public string? Mapping { get; init; }

        [CommandOption("--huber-c <C>"), Description("ect: pseudo-Huber constant c of sqrt(d^2 + c^2) - c (default 0: the plain L2 distance).")]
        public double? HuberC { get; init; }

        [CommandOption("--target-ema-mode <MODE>"), Description("fixed (cd, ct, ict default) | adaptive (--recipe ct, the released CT).")]
        public string? TargetEmaMode { get; init; }

        [CommandOption("--scale-mode <MODE>"), Description("fixed (cd default) | progressive (ct default) | progdist | ict-doubling.")]
        public string? ScaleMode { get; init; }

        [CommandOption("--start-ema <X>"), Description("Target EMA μ0 (cd and --recipe ct: 0.95; ct and ict: 0, the target is the online network).")]
        public double? StartEma { get; init; }

        [CommandOption("--start-scales <N>"), Description("N at the start (cd default 40, ct 2).")]
        public int? StartScales { get; init; }

        [CommandOption("--end-scales <N>"), Description("N at the end (cd 40; ct: scaled to the run as ict's and at most 150: 20 below 196 steps, 40 at 196-781, 80 at 782-3,124, 150 from 3,125; --recipe ct 150; ict: 10·2^j scaled to the run, 80 at 1,500 steps, 1280 from 200,000).")]
        public int? EndScales { get; init; }

        [CommandOption("--ct-schedule <NAME>"), Description("ct μ(k): released (default: the released code's exp(-c/(N-1)), μ=0.9025 at k=0) | paper (exp(s0 ln μ0 / N)).")]
        public string? CtSchedule { get; init; }

        [CommandOption("--recipe <NAME>"), Description("Start from a named recipe instead of the mode's own. For ct: ct-short (the default: the released CT's l2 loss with iCT's lognormal pairs, 1/(σᵢ₊₁−σᵢ) weighting and μ = 0, N progressive 2 -> 80 at 2,000 steps, scaled to the run as iCT's s1 and at most 150; docs/training.md), ct (the released recipe: N 2 -> 150, adaptive μ from 0.95), ict (improved consistency training, Song & Dhariwal 2023: pseudo-huber loss, 1/(σᵢ₊₁−σᵢ) weighting, lognormal pair sampling, μ = 0, N doubling 10 -> 1280, fewer doublings for runs under 200k steps). For ect: ect-short (the default: q 16 in one stage, for runs of thousands of steps), ect (the paper's q 2, halved over 8 stages, for runs of 100k steps and more).")]
        public string? Recipe { get; init; }

        [CommandOption("--total-training-steps <N>"), Description("Length of the schedules (N(k), μ(k)) and of the run (default 10000; with --resume, the run's).")]
        public long? TotalTrainingSteps { get; init; }

        [CommandOption("--max-steps <N>"), Description("Stop this run after N steps (time-boxed jobs); the schedules still follow --total-training-steps.")]
        public long? MaxSteps { get; init; }

        [CommandOption("--weight-schedule <NAME>"), Description("snr | snr+1 | karras (edm default) | truncated-snr | uniform (cd and --recipe ct default) | ict (1/(σᵢ₊₁−σᵢ), Song & Dhariwal 2023 §3.3; the ct and --recipe ict default; cd/ct only).")]
        public string? WeightSchedule { get; init; }

        [CommandOption("--pair-sampling <NAME>"), Description("cd/ct: how each sample's pair of neighbouring noise levels is drawn: uniform (cd and --recipe ct: the released code) | lognormal (iCT's, P_mean -1.1, P_std 2.0; the ct and --recipe ict default).")]
        public string? PairSampling { get; init; }

        [CommandOption("--dropout <X>"), Description("Dropout of the online network (default: the preset's: 0.1 for edm, 0 for cd/ct).")]
        public double? Dropout { get; init; }

        [CommandOption("--seed <N>"), Description("Seed of the initialisation, data order and noise (default 0).")]
        public long? Seed { get; init; }

        [CommandOption("--save-interval <N>"), Description("Checkpoint every N steps (default 1000).")]
        public int? SaveInterval { get; init; }

        [CommandOption("--log-interval <N>"), Description("Log (log.csv, progress) every N steps (default 10).")]
        public int? LogInterval { get; init; }

        [CommandOption("--resume"), Description("Continue from the newest complete checkpoint in --output (bit-identical to an uninterrupted run). The run's mode and model must match its record; --seed, --global-batch-size, --lr, --ema-rate, --ema-halflife-kimg, --total-training-steps and the architecture default to the recorded ones.")]
        public bool Resume { get; init; }

        [CommandOption("--resume-with-changes"), Description("--resume, also when --seed, --global-batch-size, --lr or --ema-rate differ from the run's record (the result is then not the uninterrupted run; a new EMA rate starts from the resumed weights; a new --lr applies from the resumed step, e.g. a drop for the end of a run).")]
        public bool ResumeWithChanges { get; init; }

        [CommandOption("--no-flip"), Description("Disable the random horizontal flip.")]
        public bool NoFlip { get; init; }

        [CommandOption("--sample-columns <N>"), Description("Samples per class in the grid written at each save (default 8; 0 = none).")]
        public int SampleColumns { get; init; } = 8;

        [CommandOption("--device <DEVICE>"), Description("cpu (default), cuda or cuda:N.")]
        public string Device { get; init; } = "cpu";

        [CommandOption("--precision <P>"), Description("fp32 (default) | bf16 | fp16: mixed precision as the official --use_fp16: the torso's convolutions in bf16/fp16, fp32 master weights for RAdam, the EMAs and the checkpoints; fp16 with dynamic loss scaling. bf16 pays on CPUs with AVX512-BF16 (1.35-1.85x per step measured on Zen 5; docs/training.md), fp16 on GPUs only. With --resume, the run's.")]
        public string? Precision { get; init; }

        [CommandOption("--threads <N>"), Description("CPU threads for libtorch (default: libtorch's choice).")]
        public int? Threads { get; init; }

        public override ValidationResult Validate()
        {
            if (!TrainPlan.Modes.ContainsKey(Mode)) return ValidationResult.Error($"MODE must be edm, cd, ct or ect (got '{Mode}')");
            if (Preset is not null && ModelConfig is not null) return ValidationResult.Error("choose the architecture with one of --preset NAME and --model-config FILE, not both");
            if (Preset is null && ModelConfig is null && !Resume && !ResumeWithChanges)
                return ValidationResult.Error("choose the architecture with --preset NAME or --model-config FILE (with --resume it defaults to the run's)");
            if (Data is null) return ValidationResult.Error("--data PATH is required (an image folder, IDX files or an .npz)");
            if (Output is null) return ValidationResult.Error("--output DIR is required (checkpoints, log.csv and sample grids go there)");
            if (TrainPlan.Recipe(Mode, Recipe, out var recipeError) is null) return ValidationResult.Error(recipeError!);
            if (Threads is < 1) return ValidationResult.Error($"--threads must be at least 1 (got {Threads})");
            return ValidationResult.Success();
        }
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellationToken)
    {
        OutputChecks.Directory("--output", s.Output);
        var options = TrainPlan.From(s);
        options.Validate();                // before Describe, which reads the schedules the checks guard (--double 0)
        var device = DeviceOption.Parse(s.Device);
        if (s.Threads is int threads) TorchSharp.torch.set_num_threads(threads);
        NativeHeap.RetainFreedMemory();     // the same activations every step: no page faults for them (docs/training.md, "Speed")
        var data = TrainingData.Open(s.Data!, options.Model.ImageSize, options.Model.InChannels, options.Model.ClassCond, InputLimits.FromEnvironment());
        AnsiConsole.MarkupLine(Markup.Escape(TrainPlan.Describe(options, data)));
        if (Cluster.World.Size > 1)
            AnsiConsole.MarkupLine($"data-parallel over {Cluster.World.Size} MPI ranks: ~{options.GlobalBatchSize / Cluster.World.Size} images per rank and step; " +
                                   "rank 0 writes checkpoints and logs");

        void Warn(string message) => AnsiConsole.MarkupLine($"[yellow]{Markup.Escape(message)}[/]");
        using var trainer = AnsiConsole.Status().Start("building the networks", _ => new Trainer(options, data, device, Warn, Cluster.World));
        if (trainer.Step >= trainer.EndStep) { AnsiConsole.MarkupLine($"nothing to do: the run is at step {trainer.Step} of {trainer.EndStep}"); return 0; }

        // Ctrl-C or SIGTERM asks the loop to stop: it saves the step it stops at (the same atomic save as every
        // --save-interval, so --resume continues bit-identically) and cm exits with 130 (SIGINT) or 143 (SIGTERM).
        // A second signal ends the process at once.
        using var signals = StopSignals.Listen(cancellationToken);
        var end = Train(trainer, options, data, s.SampleColumns, signals.Token, Warn);
        if (!end.Interrupted)
        {
            AnsiConsole.MarkupLine($"done at step {end.Step}; checkpoints and log.csv in {Markup.Escape(options.OutputDirectory)}");
            return 0;
        }
        AnsiConsole.MarkupLine(Markup.Escape(end.Checkpoint is null
            ? $"stopped by {signals.Describe()} at step {end.Step}: nothing trained, nothing saved"
            : $"stopped by {signals.Describe()}: saved step {end.Step} ({Path.GetFileName(end.Checkpoint)}) in {options.OutputDirectory}; continue with --resume"));
        return signals.ExitCode;
    }

    private static TrainingEnd Train(Trainer trainer, TrainingOptions options, ITrainingDataset data, int sampleColumns, CancellationToken cancel, Action<string> warn)
    {
        var report = new TrainingReport(options.OutputDirectory, sampleColumns, data.NumClasses, options.Mode.ToString(), warn);
        bool interactive = AnsiConsole.Profile.Capabilities.Interactive;    // redirected output has no ETA column: put it in the text
        TrainingEnd? end = null;
        AnsiConsole.Progress()
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask($"step {trainer.Step}", maxValue: trainer.EndStep - trainer.Step);
                end = trainer.Run(cancel, report, new ProgressBar(p =>
                {
                    task.Value = p.RunStep;
                    task.Description = p.Saved is not null
                        ? $"step {p.Step}/{p.TotalSteps}  saved {Path.GetFileName(p.Saved)}"
                        : string.Create(CultureInfo.InvariantCulture, $"step {p.Step}/{p.TotalSteps}  loss {p.Loss:G4}  {(p.Scales > 0 ? $"N {p.Scales}  μ {p.TargetEma:F5}  " : "")}{p.ImagesPerSecond / options.GlobalBatchSize:F2} it/s ({p.ImagesPerSecond:F1} img/s){(interactive ? "" : "  ETA " + Eta(p))}");
                }));
            });
        return end!;
    }

    private static string Eta(TrainingProgress p)
    {
        if (p.RunStep <= 0) return "?";
        var left = TimeSpan.FromSeconds(p.Elapsed.TotalSeconds / p.RunStep * (p.RunSteps - p.RunStep));
        return left.TotalHours >= 1 ? $"{(int)left.TotalHours}h{left.Minutes:D2}m" : $"{left.Minutes}m{left.Seconds:D2}s";
    }

    /// <summary>The progress bar's view of the run: every log and every save.</summary>
    private sealed class ProgressBar(Action<TrainingProgress> report) : ITrainingObserver
    {
        public void OnLog(TrainingProgress progress) => report(progress);
        public void OnSave(TrainingProgress progress, TrainingState state) => report(progress);
    }
}
