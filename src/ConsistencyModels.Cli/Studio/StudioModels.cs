// The models the studio offers: the built-in one, released presets found in the download cache, and files given at start.
using ConsistencyModels.IO;
using ConsistencyModels.IO.Downloads;
using ConsistencyModels.Nn;
using ConsistencyModels.Pipelines;
using ConsistencyModels.Presets;
using ConsistencyModels.Sampling;

namespace ConsistencyModels.Cli.Studio;

/// <summary>A model the page can pick: where its weights are and how it samples by default.</summary>
internal sealed record StudioModel(string Name, string Source, ModelConfig Config, string? Checkpoint, SamplerKind DefaultSampler,
                                   int Steps, IReadOnlyList<int>? TwoStepTs, IReadOnlyList<string>? ClassNames)
{
    public object Describe() => new
    {
        name = Name, source = Source, imageSize = Config.ImageSize, channels = Config.InChannels,
        numClasses = Config.ResolvedNumClasses, classNames = ClassNames,
        denoiser = Config.Denoiser.ToString().ToLowerInvariant(),
        defaultSampler = DefaultSampler.ToString().ToLowerInvariant(), steps = Steps, twoStepTs = TwoStepTs,
    };
}

internal sealed class StudioModels : IDisposable
{
    private readonly Dictionary<string, StudioModel> _models = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, ConsistencyPipeline> _loaded = new(StringComparer.OrdinalIgnoreCase);
    private readonly object _lock = new();

    public StudioModels(IEnumerable<string> checkpointFiles, string? cacheDir = null)
    {
        var b = BuiltInModels.CdFashionMnist32;
        Add(new StudioModel(b.Name, "built-in", b.Model, null, b.DefaultSampler, b.Steps, b.TwoStepTs, BuiltInModels.FashionMnistClasses));
        var dir = cacheDir ?? ModelCache.Directory;
        foreach (var p in CheckpointPresets.All)
            if (File.Exists(Path.Combine(dir, p.FileName)))
                Add(new StudioModel(p.Name, "download cache", p.Model, Path.Combine(dir, p.FileName), p.DefaultSampler, p.Steps, p.TwoStepTs, ClassNames(p.Model)));
        foreach (var file in checkpointFiles) Add(FromFile(file));
    }

    public IReadOnlyCollection<StudioModel> All => _models.Values;

    public StudioModel Get(string name) => _models.TryGetValue(name, out var m) ? m
        : throw new KeyNotFoundException($"unknown model '{name}'; available: {string.Join(", ", _models.Keys)}");

    /// <summary>The loaded pipeline (cached: models stay in memory once used).</summary>
    public ConsistencyPipeline Pipeline(StudioModel m)
    {
        lock (_lock)
        {
            if (_loaded.TryGetValue(m.Name, out var p)) return p;
            p = m.Checkpoint is null ? ConsistencyPipeline.LoadBuiltIn(m.Name) : ConsistencyPipeline.Load(m.Config, m.Checkpoint);
            _loaded[m.Name] = p;
            return p;
        }
    }

    private void Add(StudioModel m) => _models[m.Name] = m;

    /// <summary>
    /// A checkpoint given with --checkpoint: a released file (by name), a training run's checkpoint (config.json beside
    /// it), or weights of the built-in architecture. Anything else is refused at start, naming the file.
    /// </summary>
    private static StudioModel FromFile(string file)
    {
        var path = ModelCache.ResolveFile(file);
        var name = Path.GetFileNameWithoutExtension(path);
        if (CheckpointPresets.TryGet(name, out var preset))
            return new StudioModel(preset!.Name, path, preset.Model, path, preset.DefaultSampler, preset.Steps, preset.TwoStepTs, ClassNames(preset.Model));
        var config = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, "config.json");
        if (File.Exists(config))
        {
            var c = ModelConfigJson.Load(config);
            bool edm = c.Denoiser == DenoiserKind.Edm;
            var classes = ClassNames(c);
            return new StudioModel(name, path, c, path, edm ? SamplerKind.Heun : SamplerKind.Onestep, edm ? 18 : 40, edm ? null : [0, 22, 39], classes);
        }
        var b = BuiltInModels.CdFashionMnist32;
        return new StudioModel(name, path, b.Model, path, b.DefaultSampler, b.Steps, b.TwoStepTs, BuiltInModels.FashionMnistClasses);
    }

    /// <summary>Fashion-MNIST names for 10-class grey 32 px models, ImageNet names for 1000-class models.</summary>
    private static IReadOnlyList<string>? ClassNames(ModelConfig c) => c.ResolvedNumClasses switch
    {
        10 when c.InChannels == 1 => BuiltInModels.FashionMnistClasses,
        1000 => ImageNetClasses.Names,
        _ => null,
    };

    public void Dispose()
    {
        foreach (var p in _loaded.Values) p.Dispose();
    }
}
