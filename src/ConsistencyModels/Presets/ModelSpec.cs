// One answer to "which network, with which weights, sampled how by default" for every front end (generate, sample, edit, serve).
using ConsistencyModels.IO;
using ConsistencyModels.Nn;
using ConsistencyModels.Sampling;

namespace ConsistencyModels.Presets;

/// <summary>Where a <see cref="ModelSpec"/> came from.</summary>
public enum ModelOrigin
{
    /// <summary>A model shipped inside the library (<see cref="BuiltInModels"/>), with its own or the user's weights.</summary>
    BuiltIn,
    /// <summary>One of the 12 released checkpoints (<see cref="CheckpointPresets"/>).</summary>
    Released,
    /// <summary>A model-zoo sampling recipe over a released checkpoint (<see cref="CheckpointPresets.Recipes"/>).</summary>
    Recipe,
    /// <summary>An explicit JSON model config, or the <c>config.json</c> a training run wrote beside the checkpoint.</summary>
    ConfigFile,
}

/// <summary>
/// A resolved model: its architecture and preconditioning, where its weights are, and its default sampling settings.
/// Every front end asks <see cref="Resolve"/> (or <see cref="FromPreset"/>) for one, so that a preset, config or
/// checkpoint means the same thing in `generate`, `sample`, `edit` and the studio.
/// </summary>
/// <param name="Name">Display name (the preset's, or the config or checkpoint file's name).</param>
/// <param name="Weights">The checkpoint file to load; null for a built-in model's embedded weights.</param>
/// <param name="CheckpointKey">For .pt files holding several state dicts: the key of the one to load.</param>
/// <param name="Steps">Karras grid size (multistep) or number of steps (EDM solvers) by default.</param>
/// <param name="TwoStepTs">The default multistep <c>ts</c> (null where none is known).</param>
/// <param name="ClassNames">Names of the class labels, where known (Fashion-MNIST, ImageNet).</param>
/// <param name="Recipe">The model-zoo recipe behind it, if any (it also fixes sample count, batch and seed).</param>
public sealed record ModelSpec(
    string Name,
    ModelOrigin Origin,
    ModelConfig Config,
    string? Weights,
    string? CheckpointKey,
    SamplerKind DefaultSampler,
    int Steps,
    IReadOnlyList<int>? TwoStepTs,
    GeneratorKind DefaultGenerator,
    IReadOnlyList<string>? ClassNames,
    SamplingRecipe? Recipe = null)
{
    /// <summary>Sampling settings EDM models get from a bare config: Heun with 40 steps (79 evaluations), the paper's setting.</summary>
    public const int DefaultEdmSteps = 40;

    /// <summary>Whether the weights ship inside the library (no file to read).</summary>
    public bool UsesEmbeddedWeights => Weights is null;

    /// <summary>Default sampling options, optionally with another sampler (multistep gets <see cref="TwoStepTs"/>).</summary>
    public SamplingOptions DefaultSampling(SamplerKind? sampler = null)
    {
        var kind = sampler ?? DefaultSampler;
        return new SamplingOptions { Sampler = kind, Steps = Steps, Ts = kind == SamplerKind.Multistep ? TwoStepTs : null };
    }

    /// <summary>
    /// Resolves a model from at most one of <paramref name="preset"/> (a released or built-in name),
    /// <paramref name="recipe"/> (a model-zoo sampling recipe) and <paramref name="modelConfig"/> (a JSON config file),
    /// plus an optional <paramref name="checkpoint"/> (a file or a downloaded catalog name, looked up in
    /// <paramref name="cacheDir"/> or <see cref="ModelCache.Directory"/>). With none of the three:
    /// the checkpoint's own model when it tells one (a released file name, or a training run's <c>config.json</c> beside
    /// it), else the built-in default model.
    /// </summary>
    public static ModelSpec Resolve(string? preset = null, string? modelConfig = null, string? checkpoint = null,
                                    string? checkpointKey = null, string? recipe = null, string? cacheDir = null)
    {
        int sources = (preset is null ? 0 : 1) + (modelConfig is null ? 0 : 1) + (recipe is null ? 0 : 1);
        if (sources > 1) throw new ArgumentException("use only one of `Preset`, `Recipe` and `ModelConfig`");
        // Names are checked before files, so a misspelt preset is reported as such, not as a missing checkpoint.
        string? File() => checkpoint is null ? null : ModelCache.ResolveFile(checkpoint, cacheDir);

        if (recipe is not null)
        {
            var r = CheckpointPresets.GetRecipe(recipe);
            var p = CheckpointPresets.Get(r.Preset);
            return FromPreset(p, File() ?? ModelCache.ResolveFile(p.Name, cacheDir), checkpointKey) with
            {
                Name = r.Name, Origin = ModelOrigin.Recipe, DefaultSampler = r.Sampler, Steps = r.Steps, TwoStepTs = r.Ts,
                DefaultGenerator = r.Generator, Recipe = r,
            };
        }
        if (modelConfig is not null)
        {
            if (checkpoint is null) throw new ArgumentException("`ModelConfig` needs `Checkpoint` (the weights for that config)");
            var config = ModelConfigJson.Load(modelConfig);
            return FromConfig(Path.GetFileName(modelConfig), config, File()!, checkpointKey);
        }
        if (preset is not null)
        {
            if (BuiltInModels.TryGet(preset, out var builtIn)) return FromPreset(builtIn!, File(), checkpointKey);
            var released = CheckpointPresets.Get(preset);
            return FromPreset(released, File() ?? ModelCache.ResolveFile(released.Name, cacheDir), checkpointKey);
        }
        return File() is { } file ? FromCheckpointFile(file, checkpointKey) : FromPreset(BuiltInModels.Default, null, checkpointKey);
    }

    /// <summary>A released or built-in preset with the given weights (null: a built-in model's embedded weights).</summary>
    public static ModelSpec FromPreset(CheckpointPreset preset, string? weights, string? checkpointKey = null)
    {
        bool builtIn = BuiltInModels.TryGet(preset.Name, out _);
        if (!builtIn && weights is null)
            throw new ArgumentException($"the released model {preset.Name} needs `Checkpoint` (its weights file)");
        return new ModelSpec(preset.Name, builtIn ? ModelOrigin.BuiltIn : ModelOrigin.Released, preset.Model, weights, checkpointKey,
                             preset.DefaultSampler, preset.Steps, preset.TwoStepTs, preset.DefaultGenerator, ClassNamesFor(preset.Model));
    }

    /// <summary>A model described by a config (official flag names): EDM models default to Heun, consistency models to one step.</summary>
    public static ModelSpec FromConfig(string name, ModelConfig config, string weights, string? checkpointKey = null)
    {
        bool edm = config.Denoiser == DenoiserKind.Edm;
        return new ModelSpec(name, ModelOrigin.ConfigFile, config, weights, checkpointKey, edm ? SamplerKind.Heun : SamplerKind.Onestep,
                             DefaultEdmSteps, null, GeneratorKind.Determ, ClassNamesFor(config));
    }

    /// <summary>
    /// A checkpoint given alone: a released file (by its name), a training run's checkpoint (its <c>config.json</c> beside
    /// it), else weights for the built-in default model's architecture.
    /// </summary>
    public static ModelSpec FromCheckpointFile(string file, string? checkpointKey = null)
    {
        if (CheckpointPresets.TryGet(Path.GetFileNameWithoutExtension(file), out var released)) return FromPreset(released!, file, checkpointKey);
        var runConfig = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(file))!, "config.json");
        if (File.Exists(runConfig) && ModelConfigJson.Load(runConfig) is var config && !SameNetwork(config, BuiltInModels.Default.Model))
            return FromConfig(Path.GetFileNameWithoutExtension(file), config, file, checkpointKey);
        return FromPreset(BuiltInModels.Default, file, checkpointKey);
    }

    /// <summary>
    /// The preconditioning a checkpoint file was trained with, where the file says: a released file name, or a training
    /// run's <c>config.json</c> beside it; null when nothing tells (e.g. a bare state dict somewhere else).
    /// </summary>
    public static DenoiserKind? DenoiserOf(string file)
    {
        if (CheckpointPresets.TryGet(Path.GetFileNameWithoutExtension(file), out var released)) return released!.Model.Denoiser;
        if (!File.Exists(file) && BuiltInModels.TryGet(file, out var builtIn)) return builtIn!.Model.Denoiser;
        var runConfig = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(file))!, "config.json");
        return File.Exists(runConfig) ? ModelConfigJson.Load(runConfig).Denoiser : null;
    }

    /// <summary>Same architecture and preconditioning (dropout, a training-only setting, aside).</summary>
    private static bool SameNetwork(ModelConfig a, ModelConfig b) =>
        ModelConfigJson.ToJson(a with { Dropout = 0 }, indented: false) == ModelConfigJson.ToJson(b with { Dropout = 0 }, indented: false);

    /// <summary>Fashion-MNIST names for 10-class grey 32 px models, ImageNet names for 1000-class models.</summary>
    public static IReadOnlyList<string>? ClassNamesFor(ModelConfig c) => c.ResolvedNumClasses switch
    {
        10 when c.InChannels == 1 => BuiltInModels.FashionMnistClasses,
        1000 => ImageNetClasses.Names,
        _ => null,
    };
}
