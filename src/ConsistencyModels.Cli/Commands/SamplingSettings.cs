// The model and sampler options that `cm generate` and `cm sample` share.
using System.ComponentModel;
using ConsistencyModels.Presets;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ConsistencyModels.Cli.Commands;

internal class SamplingSettings : CommandSettings
{
    [CommandOption("--preset <NAME>"), Description("Released checkpoint name, e.g. cd_imagenet64_lpips, ct_bedroom256, edm_cat256_ema, or a built-in model: ect_fmnist32, ict_fmnist32, cd_fmnist32, edm_fmnist32 (see `cm presets`). Default, with no --recipe/--model-config: ect_fmnist32, whose weights ship inside cm.")]
    public string? Preset { get; init; }

    [CommandOption("--model-config <FILE>"), Description("JSON model config with the official flag names (image_size, num_channels, ..., \"denoiser\": \"edm\"|\"consistency\").")]
    public string? ModelConfig { get; init; }

    [CommandOption("--recipe <NAME>"), Description("A model-zoo sampling config, e.g. consistency_models_8xb256-imagenet1k-onestep-64x64 (sets preset, sampler, ts, steps, generator, batch 4, seed 42).")]
    public string? Recipe { get; init; }

    [CommandOption("--checkpoint <FILE>"), Description("Weights: PyTorch .pt (as released, unchanged) or .safetensors, or a name downloaded with `cm download`. Default for a released --preset/--recipe: its file in the download cache. Not needed for the built-in models (given, it replaces the built-in weights).")]
    public string? Checkpoint { get; init; }

    [CommandOption("--checkpoint-key <KEY>"), Description("For .pt files holding several state dicts: the key of the one to load (e.g. ema, or a dotted path).")]
    public string? CheckpointKey { get; init; }

    [CommandOption("--onnx <FILE>"), Description("Run on ONNX Runtime: a model file written by `cm export onnx` (no libtorch in the sampling). Same options, seeds and outputs (images equal within 1 uint8 level); --device takes cpu, cuda[[:N]], directml[[:N]] or coreml (execution providers present in the ONNX Runtime build); refuses --preset/--recipe/--model-config/--checkpoint, --precision other than fp32 and samplers other than onestep, multistep, heun and euler.")]
    public string? Onnx { get; init; }

    [CommandOption("--sampler <NAME>"), Description("onestep | multistep | heun | euler | dpm | ancestral | progdist. Default: the preset's (onestep for CD/CT, heun for EDM teachers).")]
    public string? Sampler { get; init; }

    [CommandOption("--steps <N>"), Description("Size of the Karras noise grid. multistep: the N the model was trained with (40 for CD, 201 for CT ImageNet-64, 151 for CT LSUN); heun/euler/dpm: number of steps (40 gives 79 evaluations with heun).")]
    public int? Steps { get; init; }

    [CommandOption("--ts <LIST>"), Description("multistep only: ascending indices into the --steps grid, ending at steps-1; one evaluation per index but the last. Released: cd_imagenet64_* 0,22,39 (steps 40); ct_imagenet64 0,106,200 (201); cd_bedroom256_lpips 0,17,39; cd_bedroom256_l2 0,18,39; ct_bedroom256 0,67,150 (151); ct_cat256 0,62,150 (151). Default: the preset's.")]
    public string? Ts { get; init; }

    [CommandOption("--sigmas <LIST>"), Description("multistep: the noise levels of the evaluations instead of --ts, strictly descending in (sigma_min, sigma_max]], one evaluation each; the last step ends at sigma_min. E.g. 80,0.821 (ECT's two-step sampling). Implies --sampler multistep.")]
    public string? Sigmas { get; init; }

    [CommandOption("--s-churn <X>"), Description("heun/dpm: EDM stochasticity S_churn (default 0 = deterministic).")]
    public double SChurn { get; init; }

    [CommandOption("--s-tmin <X>"), Description("heun/dpm: churn only for sigma >= s_tmin (default 0).")]
    public double STmin { get; init; }

    [CommandOption("--s-tmax <X>"), Description("heun/dpm: churn only for sigma <= s_tmax (default infinity).")]
    public double STmax { get; init; } = double.PositiveInfinity;

    [CommandOption("--s-noise <X>"), Description("heun/dpm: churn noise scale S_noise (default 1).")]
    public double SNoise { get; init; } = 1.0;

    [CommandOption("-n|--num-samples <N>"), Description("Number of images (default: the number of --class-labels, else 16; a recipe: 4).")]
    public int? NumSamples { get; init; }

    [CommandOption("-b|--batch-size <N>"), Description("Images per network call (default 16; a recipe: 4). With determ/determ-indiv the images do not depend on it.")]
    public int? BatchSize { get; init; }

    [CommandOption("--seed <N>"), Description("Random seed (default 42, as the official script).")]
    public long? Seed { get; init; }

    [CommandOption("--generator <NAME>"), Description("determ (one stream, sample i always gets the same noise) | determ-indiv (one stream per sample) | dummy (batch-shaped draws on the sampling device, as the official global RNG: CPU and CUDA differ). Default: the preset's.")]
    public string? Generator { get; init; }

    [CommandOption("--official-batch-noise"), Description("Do not advance the generator per batch: reproduces image_sample.py exactly, whose batches after the first depend on --batch-size.")]
    public bool OfficialBatchNoise { get; init; }

    [CommandOption("--class-labels <LIST>"), Description("Class-conditional models: one label per sample such as 3,917,0,999, one label for all, 'random' (drawn from a generator seeded by --seed; the default for released models) or 'rows' (one grid row per class, --grid-columns samples each; the default for the built-in model).")]
    public string? ClassLabels { get; init; }

    [CommandOption("--device <DEVICE>"), Description("cpu (default), cuda or cuda:N.")]
    public string Device { get; init; } = "cpu";

    [CommandOption("--precision <P>"), Description("fp32 (default; equals the official fp32 results) | bf16 | fp16. bf16/fp16 run the UNet's convolutions and attention in that type (GroupNorm statistics, embeddings, scalings and the noise schedule stay fp32, as the official fp16 path); bf16 uses AMX on CPUs that have it.")]
    public string Precision { get; init; } = "fp32";

    [CommandOption("--threads <N>"), Description("CPU threads for libtorch (default: libtorch's choice).")]
    public int? Threads { get; init; }


    public override ValidationResult Validate()
    {
        int sources = (Preset is null ? 0 : 1) + (ModelConfig is null ? 0 : 1) + (Recipe is null ? 0 : 1);
        if (sources > 1) return ValidationResult.Error("use only one of --preset, --recipe and --model-config");
        bool builtIn = sources == 0 || (Preset is not null && BuiltInModels.TryGet(Preset, out _));
        if (Checkpoint is null && !builtIn && ModelConfig is not null)
            return ValidationResult.Error("--model-config needs --checkpoint FILE");
        if (Threads is < 1) return ValidationResult.Error($"--threads must be at least 1 (got {Threads})");
        if (NumSamples is < 1) return ValidationResult.Error($"--num-samples must be at least 1 (got {NumSamples})");
        if (BatchSize is < 1) return ValidationResult.Error($"--batch-size must be at least 1 (got {BatchSize})");
        if (Precision.ToLowerInvariant() is not ("fp32" or "bf16" or "fp16")) return ValidationResult.Error($"--precision must be fp32, bf16 or fp16 (got '{Precision}')");
        return ValidationResult.Success();
    }
}
