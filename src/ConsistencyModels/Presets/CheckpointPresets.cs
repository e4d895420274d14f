// Preset table: one entry per released file, named after it (as nanoGPT's from_pretrained table).
using ConsistencyModels.Nn;
using ConsistencyModels.Sampling;

namespace ConsistencyModels.Presets;

public static class CheckpointPresets
{
    /// <summary>ImageNet 64x64 class-conditional UNet (296M parameters).</summary>
    public static ModelConfig ImageNet64(DenoiserKind kind) => new()
    {
        ImageSize = 64, NumChannels = 192, NumResBlocks = 3, ChannelMult = [1, 2, 3, 4], AttentionResolutions = [32, 16, 8],
        NumHeadChannels = 64, NumHeads = 4, ClassCond = true, NumClasses = 1000, UseScaleShiftNorm = true, ResblockUpdown = true,
        Dropout = kind == DenoiserKind.Edm ? 0.1 : 0.0, Denoiser = kind,
    };

    /// <summary>LSUN 256x256 unconditional UNet without scale-shift norm (526M parameters).</summary>
    public static ModelConfig Lsun256(DenoiserKind kind) => new()
    {
        ImageSize = 256, NumChannels = 256, NumResBlocks = 2, ChannelMult = [1, 1, 2, 2, 4, 4], AttentionResolutions = [32, 16, 8],
        NumHeadChannels = 64, NumHeads = 4, ClassCond = false, NumClasses = null, UseScaleShiftNorm = false, ResblockUpdown = true,
        Dropout = kind == DenoiserKind.Edm ? 0.1 : 0.0, Denoiser = kind,
    };

    private const string LaunchSh = "scripts/launch.sh of the official repo";
    private const string CatTsNote =
        "no ts was released for CD on LSUN Cat; this uses the LSUN Bedroom CD value for the same loss (chosen here, not tuned)";

    public static IReadOnlyList<CheckpointPreset> All { get; } =
    [
        new("edm_imagenet64_ema", ImageNet64(DenoiserKind.Edm), SamplerKind.Heun, 40, null, GeneratorKind.Determ,
            "EDM teacher, ImageNet 64x64 class-conditional (Heun, 40 steps = 79 evaluations)", "EDM teachers use Heun, not ts"),
        new("cd_imagenet64_l2", ImageNet64(DenoiserKind.Consistency), SamplerKind.Onestep, 40, [0, 22, 39], GeneratorKind.Determ,
            "consistency distillation with l2, ImageNet 64x64 class-conditional", LaunchSh),
        new("cd_imagenet64_lpips", ImageNet64(DenoiserKind.Consistency), SamplerKind.Onestep, 40, [0, 22, 39], GeneratorKind.Determ,
            "consistency distillation with LPIPS, ImageNet 64x64 class-conditional", LaunchSh),
        new("ct_imagenet64", ImageNet64(DenoiserKind.Consistency), SamplerKind.Onestep, 201, [0, 106, 200], GeneratorKind.Determ,
            "consistency training, ImageNet 64x64 class-conditional", LaunchSh),
        new("edm_bedroom256_ema", Lsun256(DenoiserKind.Edm), SamplerKind.Heun, 40, null, GeneratorKind.DetermIndiv,
            "EDM teacher, LSUN Bedroom 256x256 (Heun, 40 steps = 79 evaluations)", "EDM teachers use Heun, not ts"),
        new("cd_bedroom256_l2", Lsun256(DenoiserKind.Consistency), SamplerKind.Onestep, 40, [0, 18, 39], GeneratorKind.DetermIndiv,
            "consistency distillation with l2, LSUN Bedroom 256x256", LaunchSh),
        new("cd_bedroom256_lpips", Lsun256(DenoiserKind.Consistency), SamplerKind.Onestep, 40, [0, 17, 39], GeneratorKind.DetermIndiv,
            "consistency distillation with LPIPS, LSUN Bedroom 256x256", LaunchSh),
        new("ct_bedroom256", Lsun256(DenoiserKind.Consistency), SamplerKind.Onestep, 151, [0, 67, 150], GeneratorKind.DetermIndiv,
            "consistency training, LSUN Bedroom 256x256", LaunchSh),
        new("edm_cat256_ema", Lsun256(DenoiserKind.Edm), SamplerKind.Heun, 40, null, GeneratorKind.DetermIndiv,
            "EDM teacher, LSUN Cat 256x256 (Heun, 40 steps = 79 evaluations)", "EDM teachers use Heun, not ts"),
        new("cd_cat256_l2", Lsun256(DenoiserKind.Consistency), SamplerKind.Onestep, 40, [0, 18, 39], GeneratorKind.DetermIndiv,
            "consistency distillation with l2, LSUN Cat 256x256", CatTsNote),
        new("cd_cat256_lpips", Lsun256(DenoiserKind.Consistency), SamplerKind.Onestep, 40, [0, 17, 39], GeneratorKind.DetermIndiv,
            "consistency distillation with LPIPS, LSUN Cat 256x256", CatTsNote),
        new("ct_cat256", Lsun256(DenoiserKind.Consistency), SamplerKind.Onestep, 151, [0, 62, 150], GeneratorKind.DetermIndiv,
            "consistency training, LSUN Cat 256x256", LaunchSh),
    ];

    /// <summary>The zoo's six configs (consistency_models_8xb256-imagenet1k-*, 8xb32-LSUN-*): batch 4, seed 42.</summary>
    public static IReadOnlyList<SamplingRecipe> Recipes { get; } =
    [
        new("consistency_models_8xb256-imagenet1k-onestep-64x64", "cd_imagenet64_l2", SamplerKind.Onestep, null, 40, GeneratorKind.Determ, 4, 42),
        new("consistency_models_8xb256-imagenet1k-multistep-64x64", "cd_imagenet64_l2", SamplerKind.Multistep, [0, 22, 39], 40, GeneratorKind.Determ, 4, 42),
        new("consistency_models_8xb32-LSUN-bedroom-onestep-256x256", "ct_bedroom256", SamplerKind.Onestep, null, 40, GeneratorKind.DetermIndiv, 4, 42),
        new("consistency_models_8xb32-LSUN-bedroom-multistep-256x256", "ct_bedroom256", SamplerKind.Multistep, [0, 67, 150], 151, GeneratorKind.DetermIndiv, 4, 42),
        new("consistency_models_8xb32-LSUN-cat-onestep-256x256", "ct_cat256", SamplerKind.Onestep, null, 40, GeneratorKind.DetermIndiv, 4, 42),
        new("consistency_models_8xb32-LSUN-cat-multistep-256x256", "ct_cat256", SamplerKind.Multistep, [0, 62, 150], 151, GeneratorKind.DetermIndiv, 4, 42),
    ];

    public static CheckpointPreset Get(string name)
    {
        var key = Path.GetFileNameWithoutExtension(name.Trim());
        return All.FirstOrDefault(p => string.Equals(p.Name, key, StringComparison.OrdinalIgnoreCase))
            ?? throw new ArgumentException($"unknown preset '{name}'. Known presets: {string.Join(", ", All.Select(p => p.Name))}");
    }

    public static bool TryGet(string name, out CheckpointPreset? preset)
    {
        var key = Path.GetFileNameWithoutExtension(name.Trim());
        preset = All.FirstOrDefault(p => string.Equals(p.Name, key, StringComparison.OrdinalIgnoreCase));
        return preset is not null;
    }

    public static SamplingRecipe GetRecipe(string name)
    {
        var key = name.Trim();
        if (key.EndsWith(".py", StringComparison.OrdinalIgnoreCase)) key = key[..^3];
        key = Path.GetFileName(key);
        return Recipes.FirstOrDefault(r => string.Equals(r.Name, key, StringComparison.OrdinalIgnoreCase))
            ?? throw new ArgumentException($"unknown recipe '{name}'. Known recipes: {string.Join(", ", Recipes.Select(r => r.Name))}");
    }
}
