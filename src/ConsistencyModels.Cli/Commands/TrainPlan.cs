// Turns `cm train` options into TrainingOptions (mode defaults as scripts/launch.sh), and says what will run.
using System.Globalization;
using ConsistencyModels.IO;
using ConsistencyModels.IO.Downloads;
using ConsistencyModels.Metrics;
using ConsistencyModels.Nn;
using ConsistencyModels.Presets;
using ConsistencyModels.Training;
using ConsistencyModels.Training.Data;

namespace ConsistencyModels.Cli.Commands;

internal static class TrainPlan
{
    public static TrainingOptions From(TrainCommand.Settings s)
    {
        var mode = s.Mode.ToLowerInvariant() switch
        {
            "edm" => TrainingMode.Edm,
            "cd" => TrainingMode.ConsistencyDistillation,
            _ => TrainingMode.ConsistencyTraining,
        };
        var kind = mode == TrainingMode.Edm ? DenoiserKind.Edm : DenoiserKind.Consistency;
        var model = s.Preset is not null
            ? TrainingPresets.TryGet(s.Preset, kind) ?? throw new ArgumentException($"--preset '{s.Preset}' is unknown: use fmnist32 or a released name (see `cm presets`)")
            : ModelConfigJson.Load(s.ModelConfig!) with { Denoiser = kind };
        if (s.Dropout is double d) model = model with { Dropout = d };

        bool ict = s.Recipe is not null;
        bool ct = mode == TrainingMode.ConsistencyTraining;
        var targetEma = s.TargetEmaMode?.ToLowerInvariant() switch
        {
            null => ct && !ict ? Training.TargetEmaMode.Adaptive : Training.TargetEmaMode.Fixed,
            "fixed" => Training.TargetEmaMode.Fixed,
            "adaptive" => Training.TargetEmaMode.Adaptive,
            var other => throw new ArgumentException($"--target-ema-mode must be fixed or adaptive (got '{other}')"),
        };
        var scaleMode = s.ScaleMode?.ToLowerInvariant() switch
        {
            null => ict ? Training.ScaleMode.ImprovedCtDoubling : ct ? Training.ScaleMode.Progressive : Training.ScaleMode.Fixed,
            "fixed" => Training.ScaleMode.Fixed,
            "progressive" => Training.ScaleMode.Progressive,
            "progdist" => Training.ScaleMode.ProgressiveDistillation,
            "ict-doubling" => Training.ScaleMode.ImprovedCtDoubling,
            var other => throw new ArgumentException($"--scale-mode must be fixed, progressive, progdist or ict-doubling (got '{other}')"),
        };
        var variant = s.CtSchedule.ToLowerInvariant() switch
        {
            "released" => CtScheduleVariant.ReleasedCode,
            "paper" => CtScheduleVariant.Paper,
            var other => throw new ArgumentException($"--ct-schedule must be released or paper (got '{other}')"),
        };
        var schedule = new EmaAndScalesConfig(targetEma, s.StartEma ?? (ict ? 0.0 : 0.95), scaleMode,
            s.StartScales ?? (ict ? 10 : ct ? 2 : 40), s.EndScales ?? (ict ? 1280 : ct ? 150 : 40), s.TotalTrainingSteps, Variant: variant);

        var norm = (s.LossNorm ?? (ict ? "pseudo-huber" : "l2")).ToLowerInvariant() switch
        {
            "l1" => LossNorm.L1,
            "l2" => LossNorm.L2,
            "l2-32" => LossNorm.L2At32,
            "lpips" => LossNorm.Lpips,
            "pseudo-huber" => LossNorm.PseudoHuber,
            var other => throw new ArgumentException($"--loss-norm must be l1, l2, l2-32, lpips or pseudo-huber (got '{other}')"),
        };
        if (norm == LossNorm.Lpips && s.LpipsWeights is null) throw new ArgumentException("--loss-norm lpips needs --lpips-weights FILE (VGG16 + LPIPS linear weights)");
        WeightSchedule? weights = s.WeightSchedule?.ToLowerInvariant() switch
        {
            null => ict ? WeightSchedule.ImprovedCt : null,
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
        var rates = s.EmaRate.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(r => double.TryParse(r, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v
                : throw new ArgumentException($"--ema-rate: '{r}' is not a number")).ToArray();

        return new TrainingOptions
        {
            Mode = mode, Model = model, OutputDirectory = s.Output!, GlobalBatchSize = s.GlobalBatchSize, Microbatch = s.Microbatch,
            LearningRate = s.Lr, WeightDecay = s.WeightDecay, EmaRates = rates, LossNorm = norm, WeightSchedule = weights,
            Schedule = schedule, IndexSampling = ict ? IndexSampling.LogNormal : IndexSampling.Uniform, TeacherPath = s.Teacher is null ? null : ModelCache.ResolveFile(s.Teacher),
            MaxSteps = s.MaxSteps, Seed = s.Seed, SaveInterval = s.SaveInterval, LogInterval = s.LogInterval, RandomFlip = !s.NoFlip,
            Resume = s.Resume, SampleGridColumns = s.SampleColumns,
            Perceptual = norm == LossNorm.Lpips ? Lpips.Load(s.LpipsWeights!) : null,
        };
    }

    public static string Describe(TrainingOptions o, ITrainingDataset data)
    {
        var lines = new List<string>
        {
            $"mode: {o.Mode}; data: {data.Count} images {data.Channels}x{data.ImageSize}x{data.ImageSize}" + (data.NumClasses is int k ? $", {k} classes" : ", unconditional"),
            $"batch {o.GlobalBatchSize}, lr {o.LearningRate}, EMA rates {string.Join(",", o.EmaRates.Select(TrainingCheckpoints.RateName))}, total steps {o.Schedule.TotalSteps}" +
                (o.MaxSteps is long m ? $", this run at most {m}" : ""),
        };
        if (o.Mode != TrainingMode.Edm)
        {
            lines.Add($"loss {o.LossNorm}, weighting {o.ResolvedWeightSchedule}, pairs {o.IndexSampling}; target EMA {o.Schedule.TargetEmaMode} μ0 {o.Schedule.StartEma}, " +
                      $"N {o.Schedule.ScaleMode} {o.Schedule.StartScales} -> {o.Schedule.EndScales}");
            if (o.Schedule.TargetEmaMode == Training.TargetEmaMode.Adaptive)
                lines.Add(o.Schedule.Variant == CtScheduleVariant.ReleasedCode
                    ? "μ(k) schedule: the released code's (divides by N(k)-1: μ = μ0² at k = 0); --ct-schedule paper for the paper's formula"
                    : "μ(k) schedule: the paper's formula exp(s0·ln μ0 / N(k)); --ct-schedule released for the released code's");
        }
        return string.Join(Environment.NewLine, lines);
    }
}
