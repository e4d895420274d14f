// The models the studio offers: the built-in one, released presets found in the download cache, and files given at start.
using ConsistencyModels.IO;
using ConsistencyModels.IO.Downloads;
using ConsistencyModels.Nn;
using ConsistencyModels.Pipelines;
using ConsistencyModels.Presets;
using ConsistencyModels.Sampling;

namespace ConsistencyModels.Cli.Studio;

/// <summary>A model the page can pick: the library's resolved model, and where it was found.</summary>
internal sealed record StudioModel(ModelSpec Spec, string Source)
{
    public string Name => Spec.Name;
    public ModelConfig Config => Spec.Config;

    public object Describe() => new
    {
        name = Name, source = Source, imageSize = Config.ImageSize, channels = Config.InChannels,
        numClasses = Config.ResolvedNumClasses, classNames = Spec.ClassNames,
        denoiser = Config.Denoiser.ToString().ToLowerInvariant(),
        defaultSampler = Spec.DefaultSampler.ToString().ToLowerInvariant(), steps = Spec.Steps, twoStepTs = Spec.TwoStepTs,
    };
}

internal sealed class StudioModels : IDisposable
{
    private readonly Dictionary<string, StudioModel> _models = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, ConsistencyPipeline> _loaded = new(StringComparer.OrdinalIgnoreCase);
    private readonly object _lock = new();

    public StudioModels(IEnumerable<string> checkpointFiles, string? cacheDir = null)
    {
        foreach (var b in BuiltInModels.All) Add(new StudioModel(ModelSpec.FromPreset(b, null), "built-in"));
        var dir = cacheDir ?? ModelCache.Directory;
        foreach (var p in CheckpointPresets.All)
            if (File.Exists(Path.Combine(dir, p.FileName)))
                Add(new StudioModel(ModelSpec.FromPreset(p, Path.Combine(dir, p.FileName)), "download cache"));
        foreach (var file in checkpointFiles)
        {
            var spec = ModelSpec.Resolve(checkpoint: file, cacheDir: cacheDir);
            // Named after the file, so that several checkpoints of one run (or of the built-in architecture) stay apart.
            Add(new StudioModel(spec.Origin == ModelOrigin.Released ? spec : spec with { Name = Path.GetFileNameWithoutExtension(spec.Weights!) }, spec.Weights!));
        }
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
            p = ConsistencyPipeline.Load(m.Spec, limits: InputLimits.FromEnvironment());
            _loaded[m.Name] = p;
            return p;
        }
    }

    private void Add(StudioModel m) => _models[m.Name] = m;

    public void Dispose()
    {
        foreach (var p in _loaded.Values) p.Dispose();
    }
}
