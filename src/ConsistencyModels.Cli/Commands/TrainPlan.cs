// Turns `cm train` options into TrainingOptions (a library recipe with the user's overrides), and says what will run.
using System.Globalization;
using ConsistencyModels.IO;
using ConsistencyModels.IO.Downloads;
using ConsistencyModels.Metrics;
using ConsistencyModels.Nn;
using ConsistencyModels.Presets;
using ConsistencyModels.Training;
using ConsistencyModels.Data;

namespace ConsistencyModels.Cli.Commands;

internal static class TrainPlan
{
    /// <summary>The MODE words of `cm train`.</summary>
    public static IReadOnlyDictionary<string, TrainingMode> Modes { get; } = new Dictionary<string, TrainingMode>(StringComparer.OrdinalIgnoreCase)
    {
        ["edm"] = TrainingMode.Edm,
        ["cd"] = TrainingMode.ConsistencyDistillation,
        ["ct"] = TrainingMode.ConsistencyTraining,
        ["ect"] = TrainingMode.EasyConsistencyTuning,
    };

    public static string ModeWord(TrainingMode mode) => Modes.First(kv => kv.Value == mode).Key;

    /// <summary>The recipe of MODE, or the one --recipe names (null with the reason when it does not exist or trains another mode).</summary>
    public static TrainingRecipe? Recipe(string mode, string? recipe, out string? error)
    {
        error = null;
        if (recipe is null) return TrainingRecipes.Default(Modes[mode]);
        if (TrainingRecipes.Find(recipe) is not { } found)
            error = $"--recipe must be one of {string.Join(", ", TrainingRecipes.All.Select(r => r.Name))} (got '{recipe}')";
        else if (found.Mode != Modes[mode])
            error = $"--recipe {found.Name} applies to {ModeWord(found.Mode)}";
        else return found;
        return null;
    }

    /// <summary>The recipe's options with the user's overrides.</summary>
    public static TrainingOptions From(TrainCommand.Settings s)
    {
        var options = Build(s, out var record);
        // Mode, model, seed, batch and EMA rates against the run's record, before any data is read or network built.
        if (record is { } r) TrainingCheckpoints.CheckResume(r.Manifest, r.Path, options);
        return options;
    }

    private static TrainingOptions Build(TrainCommand.Settings s, out (CheckpointManifest Manifest, string Path)? record)
    {
        var recipe = Recipe(s.Mode, s.Recipe, out var error) ?? throw new ArgumentException(error);
        var mode = recipe.Mode;
        // ECT tunes a diffusion model: it keeps the teacher's dropout (their CIFAR-10 runs: 0.2 against EDM's 0.13).
        var kind = mode is TrainingMode.Edm or TrainingMode.EasyConsistencyTuning ? DenoiserKind.Edm : DenoiserKind.Consistency;
        // --resume: the run's record (corrupt or of another mode: refused here, before any work); what the user leaves
        // out is taken from it, so `--resume` alone continues the same run.
        bool resume = s.Resume || s.ResumeWithChanges;
        record = resume ? TrainingCheckpoints.LatestState(s.Output!) : null;
        if (record is { } r0)
        {
            if (!Enum.TryParse<TrainingMode>(r0.Manifest.Mode, out var recordedMode) || !Enum.IsDefined(recordedMode))
                throw new InvalidDataException($"--resume: {r0.Path} records an unknown mode '{r0.Manifest.Mode}'");
            if (recordedMode != mode)
                throw new ArgumentException($"--resume: {r0.Path} records a {ModeWord(recordedMode)} run, requested {ModeWord(mode)} " +
                                            $"(resume it with `cm train {ModeWord(recordedMode)} ... --resume`, or train into another --output)");
        }
        else if (resume && s.Preset is null && s.ModelConfig is null)
            throw new ArgumentException($"--resume without --preset or --model-config takes the architecture from the run, but {s.Output} holds no complete checkpoint (train_state*.json)");
        ModelConfig model;
        if (s.Preset is not null)
            model = TrainingPresets.TryGet(s.Preset, kind) ?? throw new ArgumentException($"--preset '{s.Preset}' is unknown: use fmnist32 or a released name (see `cm presets`)");
        else if (s.ModelConfig is not null)
            model = ModelConfigJson.Load(s.ModelConfig) with { Denoiser = kind };
        else
        {
            try { model = ModelConfigJson.Parse(record!.Value.Manifest.ModelConfigJson) with { Denoiser = kind }; }
            catch (ArgumentException e) { throw new InvalidDataException($"--resume: {record!.Value.Path} records a model config that cannot be read ({e.Message})"); }
        }
        if (s.Dropout is double d) model = model with { Dropout = d };
        var o = recipe.Create(model, s.Output!, s.TotalTrainingSteps ?? record?.Manifest.TotalSteps ?? 10_000);

        var targetEma = s.TargetEmaMode?.ToLowerInvariant() switch
        {
            null => o.Schedule.TargetEmaMode,
            "fixed" => Training.TargetEmaMode.Fixed,
            "adaptive" => Training.TargetEmaMode.Adaptive,
            var other => throw new ArgumentException($"--target-ema-mode must be fixed or adaptive (got '{other}')"),
        };
        var scaleMode = s.ScaleMode?.ToLowerInvariant() switch
        {
            null => o.Schedule.ScaleMode,
            "fixed" => Training.ScaleMode.Fixed,
            "progressive" => Training.ScaleMode.Progressive,
            "progdist" => Training.ScaleMode.ProgressiveDistillation,
            "ict-doubling" => Training.ScaleMode.ImprovedCtDoubling,
            var other => throw new ArgumentException($"--scale-mode must be fixed, progressive, progdist or ict-doubling (got '{other}')"),
        };
        var variant = s.CtSchedule?.ToLowerInvariant() switch
        {
            null => o.Schedule.Variant,
            "released" => CtScheduleVariant.ReleasedCode,
            "paper" => CtScheduleVariant.Paper,
            var other => throw new ArgumentException($"--ct-schedule must be released or paper (got '{other}')"),
        };
        var schedule = o.Schedule with
        {
            TargetEmaMode = targetEma, StartEma = s.StartEma ?? o.Schedule.StartEma, ScaleMode = scaleMode,
            StartScales = s.StartScales ?? o.Schedule.StartScales, EndScales = s.EndScales ?? o.Schedule.EndScales, Variant = variant,
        };

        var norm = s.LossNorm?.ToLowerInvariant() switch
        {
            null => o.LossNorm,
            "l1" => LossNorm.L1,
            "l2" => LossNorm.L2,
            "l2-32" => LossNorm.L2At32,
            "lpips" => LossNorm.Lpips,
            "pseudo-huber" => LossNorm.PseudoHuber,
            var other => throw new ArgumentException($"--loss-norm must be l1, l2, l2-32, lpips or pseudo-huber (got '{other}')"),
        };
        if (norm == LossNorm.Lpips && s.LpipsWeights is null) throw new ArgumentException("--loss-norm lpips needs --lpips-weights FILE (VGG16 + LPIPS linear weights)");
        var weights = s.WeightSchedule?.ToLowerInvariant() switch
        {
            null => o.WeightSchedule,
            "ict" => WeightSchedule.ImprovedCt,
            "snr" => WeightSchedule.Snr,
            "snr+1" => WeightSchedule.SnrPlus1,
            "karras" => WeightSchedule.Karras,
            "truncated-snr" => WeightSchedule.TruncatedSnr,
            "uniform" => WeightSchedule.Uniform,
            var other => throw new ArgumentException($"--weight-schedule must be snr, snr+1, karras, truncated-snr, uniform or ict (got '{other}')"),
        };
        if (weights == WeightSchedule.ImprovedCt && mode == TrainingMode.Edm)
            throw new ArgumentException("--weight-schedule ict weighs pairs of noise levels: it applies to cd and ct, not edm");
        var pairs = s.PairSampling?.ToLowerInvariant() switch
        {
            null => o.IndexSampling,
            "uniform" => IndexSampling.Uniform,
            "lognormal" => IndexSampling.LogNormal,
            var other => throw new ArgumentException($"--pair-sampling must be uniform or lognormal (got '{other}')"),
        };
        if (s.PairSampling is not null && mode is not (TrainingMode.ConsistencyDistillation or TrainingMode.ConsistencyTraining))
            throw new ArgumentException("--pair-sampling draws pairs of neighbouring noise levels: it applies to cd and ct");
        var rates = s.EmaRate?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(r => double.TryParse(r, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v
                : throw new ArgumentException($"--ema-rate: '{r}' is not a number")).ToArray();
        var recorded = record?.Manifest;

        var mapping = s.Mapping?.ToLowerInvariant() switch
        {
            null => o.Ect.Mapping,
            "sigmoid" => EctMapping.Sigmoid,
            "const" => EctMapping.Const,
            var other => throw new ArgumentException($"--mapping must be sigmoid or const (got '{other}')"),
        };
        var ectFlags = s.Q is not null || s.Double is not null || s.Mapping is not null || s.HuberC is not null;
        if (ectFlags && mode != TrainingMode.EasyConsistencyTuning) throw new ArgumentException("-q, --double, --mapping and --huber-c apply to ect");
        // ECT from a released or built-in EDM model: --preset edm_imagenet64_ema (or edm_fmnist32) alone names the teacher too.
        var teacher = s.Teacher;
        if (teacher is null && mode == TrainingMode.EasyConsistencyTuning && s.Preset is not null
            && (CheckpointPresets.TryGet(s.Preset, out var named) || BuiltInModels.TryGet(s.Preset, out named)) && named!.Model.Denoiser == DenoiserKind.Edm)
            teacher = named.Name;

        return o with
        {
            Ect = o.Ect with { Q = s.Q ?? o.Ect.Q, Mapping = mapping, HuberC = s.HuberC ?? o.Ect.HuberC },
            EctStageSteps = s.Double ?? o.EctStageSteps,
            GlobalBatchSize = s.GlobalBatchSize ?? recorded?.GlobalBatchSize ?? o.GlobalBatchSize, Microbatch = s.Microbatch ?? o.Microbatch,
            LearningRate = s.Lr ?? recorded?.LearningRate ?? RecordedByOptimiser(s.Output, record) ?? o.LearningRate, WeightDecay = s.WeightDecay ?? o.WeightDecay, EmaRates = rates ?? recorded?.EmaRates ?? o.EmaRates,
            EmaHalfLifeKimg = s.EmaHalflifeKimg ?? recorded?.EmaHalfLifeKimg ?? o.EmaHalfLifeKimg,
            EmaRampupRatio = s.EmaRampupRatio ?? recorded?.EmaRampupRatio ?? o.EmaRampupRatio,
            LossNorm = norm, WeightSchedule = weights, IndexSampling = pairs, Schedule = schedule,
            TeacherPath = teacher is null ? o.TeacherPath
                : !File.Exists(teacher) && BuiltInModels.TryGet(teacher, out var builtIn) ? builtIn!.Name : ModelCache.ResolveFile(teacher),
            MaxSteps = s.MaxSteps ?? o.MaxSteps, Seed = s.Seed ?? recorded?.Seed ?? o.Seed, SaveInterval = s.SaveInterval ?? o.SaveInterval,
            LogInterval = s.LogInterval ?? o.LogInterval, RandomFlip = !s.NoFlip && o.RandomFlip, Resume = resume || o.Resume,
            ResumeWithChanges = s.ResumeWithChanges || o.ResumeWithChanges,
            Precision = s.Precision is { } precision ? Parse.Precision(precision)
                : recorded?.Precision is { } rp && Enum.TryParse<Precision>(rp, out var recordedPrecision) ? recordedPrecision : o.Precision,
            Perceptual = norm == LossNorm.Lpips ? Lpips.Load(s.LpipsWeights!) : o.Perceptual,
        };
    }

    /// <summary>A record from before the learning rate was kept: the rate its optimiser file holds (null: no such record or file).</summary>
    private static double? RecordedByOptimiser(string? output, (CheckpointManifest Manifest, string Path)? record) =>
        record is { } r && r.Manifest.LearningRate is null && output is not null && TrainingCheckpoints.Optimizer(output, r.Manifest.Step) is var opt && File.Exists(opt)
            ? RAdamCheckpoint.LearningRate(opt) : null;

    public static string Describe(TrainingOptions o, ITrainingDataset data)
    {
        var lines = new List<string>
        {
            $"mode: {o.Mode}; data: {data.Count} images {data.Channels}x{data.ImageSize}x{data.ImageSize}" + (data.NumClasses is int k ? $", {k} classes" : ", unconditional"),
            $"batch {o.GlobalBatchSize}, lr {o.LearningRate}, EMA rates {string.Join(",", o.EmaRates.Select(TrainingCheckpoints.RateName))}" +
                (o.EmaHalfLifeKimg is double hl ? $" + half-life {TrainingCheckpoints.RateName(hl)} kimg" + (o.EmaRampupRatio is double rr ? $" (ramp-up {TrainingCheckpoints.RateName(rr)})" : "") : "") + $", total steps {o.Schedule.TotalSteps}" +
                (o.MaxSteps is long m ? $", this run at most {m}" : ""),
        };
        int lastStage = o.EctStage(o.Schedule.TotalSteps - 1);
        lines.Add($"recipe: {TrainingCheckpoints.Recipe(o)}" + o.Mode switch
        {
            TrainingMode.EasyConsistencyTuning when lastStage > 0 => $" (stage {lastStage} at the end); teacher {o.TeacherPath}",
            TrainingMode.EasyConsistencyTuning or TrainingMode.ConsistencyDistillation => $"; teacher {o.TeacherPath}",
            _ => "",
        });
        if (o.Mode is TrainingMode.ConsistencyDistillation or TrainingMode.ConsistencyTraining && o.Schedule.TargetEmaMode == Training.TargetEmaMode.Adaptive)
            lines.Add(o.Schedule.Variant == CtScheduleVariant.ReleasedCode
                ? "μ(k) schedule: the released code's (divides by N(k)-1: μ = μ0² at k = 0); --ct-schedule paper for the paper's formula"
                : "μ(k) schedule: the paper's formula exp(s0·ln μ0 / N(k)); --ct-schedule released for the released code's");
        return string.Join(Environment.NewLine, lines);
    }
}
