// Everything one training run needs, as data (the flags of scripts/cm_train.py and edm_train.py, reference §2.3/§6).
using ConsistencyModels.Nn;

namespace ConsistencyModels.Training;

public enum TrainingMode
{
    /// <summary>EDM teacher (edm_train.py): denoising score matching with EDM scalings.</summary>
    Edm,
    /// <summary>Consistency distillation from an EDM teacher (one Heun step per pair).</summary>
    ConsistencyDistillation,
    /// <summary>Consistency training, no teacher (Euler step with x₀).</summary>
    ConsistencyTraining,
    /// <summary>Easy Consistency Tuning (locuslab/ect): an EDM teacher fine-tuned into a consistency model, no target network.</summary>
    EasyConsistencyTuning,
}

/// <summary>A run's settings; <see cref="TrainingRecipes"/> gives those of each published recipe.</summary>
public sealed record TrainingOptions
{
    public required TrainingMode Mode { get; init; }
    /// <summary>The online network (its Denoiser field is forced to Edm / Consistency by the mode).</summary>
    public required ModelConfig Model { get; init; }
    public required string OutputDirectory { get; init; }

    public int GlobalBatchSize { get; init; } = 64;
    /// <summary>Split each batch into micro-batches of this size (gradients accumulate as upstream); −1: whole batch.</summary>
    public int Microbatch { get; init; } = -1;
    public double LearningRate { get; init; } = 1e-4;
    public double WeightDecay { get; init; }
    public IReadOnlyList<double> EmaRates { get; init; } = [0.999, 0.9999, 0.9999432189950708];
    /// <summary>
    /// An extra EMA with this half-life in thousands of images (NVlabs/edm's <c>ema_halflife_kimg</c>; null: none).
    /// Fixed rates suit long runs: after 1,500 steps an EMA of 0.999 still holds 22% of its initial weights.
    /// </summary>
    public double? EmaHalfLifeKimg { get; init; }
    /// <summary>The half-life EMA's ramp-up: its half-life is at most this fraction of the images seen (edm: 0.05; null: none).</summary>
    public double? EmaRampupRatio { get; init; } = 0.05;
    public LossNorm LossNorm { get; init; } = LossNorm.L2;
    /// <summary>Null: the mode's default (EDM: karras; consistency: uniform).</summary>
    public WeightSchedule? WeightSchedule { get; init; }
    /// <summary>Target EMA μ(k) and N(k); ignored for EDM.</summary>
    public EmaAndScalesConfig Schedule { get; init; } = EmaAndScalesConfig.ConsistencyDistillation();
    public IndexSampling IndexSampling { get; init; } = IndexSampling.Uniform;
    /// <summary>ECT's loss (q, mapping, Huber c, weighting, t distribution); its Stage is set each step from <see cref="EctStageSteps"/>.</summary>
    public EctLoss Ect { get; init; } = new();
    /// <summary>ECT: the stage advances (r moves q times nearer to t) every this many steps (ECT's <c>--double</c>, there in ticks).</summary>
    public long EctStageSteps { get; init; } = 1000;
    /// <summary>The <see cref="EctStageSteps"/> of a run that stays at stage 0 however long it is (recipe ect-short).</summary>
    public const long EctSingleStage = long.MaxValue;
    /// <summary>EDM teacher weights (CD; ECT, which may also go on from an earlier ECT result; optional for CT, where it only initialises the online network as upstream).</summary>
    public string? TeacherPath { get; init; }
    /// <summary>The teacher's architecture; null: the online config with EDM scalings.</summary>
    public ModelConfig? TeacherModel { get; init; }
    /// <summary>Stop this run after this many steps (the schedules still follow Schedule.TotalSteps).</summary>
    public long? MaxSteps { get; init; }
    public long Seed { get; init; }
    public int SaveInterval { get; init; } = 1000;
    public int LogInterval { get; init; } = 10;
    public bool RandomFlip { get; init; } = true;
    /// <summary>NHWC layout for the torso's convolutions (same values; measured no faster for training on this CPU, so off by default).</summary>
    public bool ChannelsLast { get; init; }
    /// <summary>
    /// Keep the parameters, RAdam's moments, the EMA copies and the target in one flat buffer each, so each update is a
    /// few operations over the model instead of a few per tensor (not with <see cref="ChannelsLast"/>, whose weights
    /// keep their own strides). Off: the per-tensor loops of the official code, for A/B comparisons. Mixed precision
    /// (<see cref="Precision"/>) always keeps its fp32 masters flat.
    /// </summary>
    public bool FlatParameters { get; init; } = true;
    /// <summary>
    /// Kernel choices of the online and target networks (<see cref="Nn.KernelOptions"/>); the default hashes the CPU
    /// dropout masks (<see cref="Nn.KernelOptions.HashedCpuDropout"/>), so a run's masks are not libtorch's bernoulli_ draws.
    /// </summary>
    public Nn.KernelOptions Kernels { get; init; } = Nn.KernelOptions.Default;
    /// <summary>
    /// Fp32 (default), or mixed precision as the official <c>--use_fp16</c> (MixedPrecisionTrainer): the torso's
    /// convolutions of the online, target and teacher networks run in bf16/fp16 while RAdam, the EMAs and the checkpoints
    /// keep fp32 master weights; fp16 with dynamic loss scaling (<see cref="LossScale"/>). Pays where the hardware has
    /// fast half-precision convolutions: bf16 on CPUs with AVX512-BF16 (1.35-1.85x per step on Zen 5), fp16 on GPUs.
    /// </summary>
    public Precision Precision { get; init; } = Precision.Fp32;
    /// <summary>Continue from the newest complete checkpoint in <see cref="OutputDirectory"/>.</summary>
    public bool Resume { get; init; }
    /// <summary>
    /// With <see cref="Resume"/>: continue although <see cref="Seed"/>, <see cref="GlobalBatchSize"/>,
    /// <see cref="LearningRate"/> or <see cref="EmaRates"/> differ from the run's record (without it such a resume is
    /// refused: the result would not be the uninterrupted run). A new EMA rate starts from the resumed online weights;
    /// the optimiser trains on at <see cref="LearningRate"/> (e.g. a learning-rate drop for the end of a run).
    /// </summary>
    public bool ResumeWithChanges { get; init; }
    /// <summary>The perceptual distance for <see cref="LossNorm.Lpips"/> (e.g. Metrics.Lpips.Load(...)).</summary>
    public Metrics.IImageDistance? Perceptual { get; init; }

    public WeightSchedule ResolvedWeightSchedule =>
        WeightSchedule ?? (Mode == TrainingMode.Edm ? Training.WeightSchedule.Karras : Training.WeightSchedule.Uniform);

    /// <summary>The online network as saved: EDM for a teacher, consistency scalings otherwise (ECT trains under the EDM scalings but samples under these).</summary>
    public ModelConfig OnlineModel => Model with { Denoiser = Mode == TrainingMode.Edm ? DenoiserKind.Edm : DenoiserKind.Consistency };

    /// <summary>The preconditioning the loss sees: ECT trains under its teacher's EDM scalings (ECMPrecond in train mode).</summary>
    public ModelConfig TrainingModel => Mode == TrainingMode.EasyConsistencyTuning ? OnlineModel with { Denoiser = DenoiserKind.Edm } : OnlineModel;

    /// <summary>Whether the run keeps a target network θ⁻ (CD and CT; ECT's target is the online network under stop-gradient).</summary>
    public bool HasTarget => Mode is TrainingMode.ConsistencyDistillation or TrainingMode.ConsistencyTraining;

    /// <summary>ECT's stage at <paramref name="step"/>: one more every <see cref="EctStageSteps"/> steps.</summary>
    public int EctStage(long step) => (int)Math.Min(step / EctStageSteps, int.MaxValue);

    public void Validate()
    {
        if (!Enum.IsDefined(Precision)) throw new ArgumentException($"`Precision` must be fp32, bf16 or fp16 (got {(int)Precision})");
        if (GlobalBatchSize < 1) throw new ArgumentException($"`GlobalBatchSize` must be positive, got {GlobalBatchSize}");
        if (Microbatch == 0 || Microbatch < -1 || Microbatch > GlobalBatchSize)
            throw new ArgumentException($"`Microbatch` must be -1 or between 1 and the batch size {GlobalBatchSize}, got {Microbatch}");
        if (!(LearningRate > 0) || !double.IsFinite(LearningRate)) throw new ArgumentException($"`LearningRate` must be a positive number, got {LearningRate}");
        if (EmaHalfLifeKimg is <= 0 || (EmaHalfLifeKimg is double hl && !double.IsFinite(hl)))
            throw new ArgumentException($"`EmaHalfLifeKimg` must be a positive number of thousands of images (got {EmaHalfLifeKimg})");
        if (EmaRampupRatio is <= 0 || (EmaRampupRatio is double rr && !double.IsFinite(rr)))
            throw new ArgumentException($"`EmaRampupRatio` must be positive (got {EmaRampupRatio})");
        if (EmaRates.Any(r => r is < 0 or >= 1)) throw new ArgumentException($"`EmaRates` values must be in [0, 1): {string.Join(",", EmaRates)}");
        if (Mode == TrainingMode.ConsistencyDistillation && TeacherPath is null)
            throw new ArgumentException("consistency distillation needs `TeacherPath` (an EDM model checkpoint)");
        if (Mode == TrainingMode.EasyConsistencyTuning)
        {
            if (TeacherPath is null) throw new ArgumentException("easy consistency tuning starts from an EDM model: `TeacherPath` is required");
            if (Ect.Q <= 1 || !double.IsFinite(Ect.Q))
                throw new ArgumentException($"`Q` must be above 1 (got {Ect.Q}): with q <= 1, r = 0 at every step and the pairs never approach each other");
            if (EctStageSteps < 1) throw new ArgumentException($"`EctStageSteps` must be positive (got {EctStageSteps})");
            if (Ect.HuberC < 0 || !double.IsFinite(Ect.HuberC)) throw new ArgumentException($"`HuberC` must be 0 or positive (got {Ect.HuberC})");
            // Past 2^20 the gap t - r is below float32's resolution of t for the smaller t: r rounds to t and the loss divides by 0.
            int lastStage = EctStage(Schedule.TotalSteps - 1);
            if ((lastStage + 1) * Math.Log2(Ect.Q) > 20)
                throw new ArgumentException($"`Q` {Ect.Q} with a new `Stage` every {EctStageSteps} steps reaches stage {lastStage} by step {Schedule.TotalSteps}: " +
                                            $"q^{lastStage + 1} > 2^20 puts r within float32 rounding of t (use a smaller q or fewer stages)");
        }
        if (TeacherPath is not null && !File.Exists(TeacherPath) && !Presets.BuiltInModels.TryGet(TeacherPath, out _)) throw new FileNotFoundException($"teacher checkpoint '{TeacherPath}' does not exist", TeacherPath);
        if (TeacherPath is not null && Mode is TrainingMode.ConsistencyDistillation or TrainingMode.EasyConsistencyTuning
            && Presets.ModelSpec.DenoiserOf(TeacherPath) is DenoiserKind kind && kind != DenoiserKind.Edm
            && !(Mode == TrainingMode.EasyConsistencyTuning && TrainingCheckpoints.TunedByEct(TeacherPath)))
            throw new ArgumentException($"`TeacherPath` '{TeacherPath}' is a {kind.ToString().ToLowerInvariant()} model (its name or the config.json beside it says so): the teacher must be an EDM model" +
                                        (Mode == TrainingMode.EasyConsistencyTuning ? " or an earlier ECT result (to tune on from it)" : ""));
        if (LossNorm == LossNorm.Lpips && Perceptual is null && Mode != TrainingMode.Edm) throw new ArgumentException("`LossNorm` lpips needs the LPIPS weights (`Perceptual`)");
        if (LossNorm == LossNorm.Lpips && Mode == TrainingMode.Edm) throw new ArgumentException("`LossNorm` applies to cd/ct; EDM training uses the weighted l2 of the paper");
        if (SaveInterval < 1 || LogInterval < 1) throw new ArgumentException("`SaveInterval` and `LogInterval` must be positive");
        if (MaxSteps is < 1) throw new ArgumentException($"`MaxSteps` must be positive, got {MaxSteps}");
        if (Schedule.TotalSteps < 1) throw new ArgumentException("`TotalSteps` must be positive");
    }
}
