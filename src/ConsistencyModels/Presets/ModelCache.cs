// Where downloaded checkpoints and evaluator files live: $CM_CACHE_DIR, else $XDG_CACHE_HOME/consistency-models, else ~/.cache/consistency-models.
using ConsistencyModels.IO.Downloads;
namespace ConsistencyModels.Presets;

public static class ModelCache
{
    public const string EnvironmentVariable = "CM_CACHE_DIR";

    public static string Directory
    {
        get
        {
            if (Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } explicitDir) return explicitDir;
            var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
            var root = xdg is { Length: > 0 } ? xdg : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
            return Path.Combine(root, "consistency-models");
        }
    }

    /// <summary>
    /// Resolves a <c>--checkpoint</c> value: an existing file is returned as is; a catalog name (<c>cd_imagenet64_lpips</c>,
    /// <c>cd_imagenet64_lpips.pt</c>, <c>inception</c>) becomes its cached file, verified against the cache manifest.
    /// A catalog name that is not downloaded yet throws, saying how to download it.
    /// </summary>
    public static string ResolveFile(string value, string? cacheDir = null)
    {
        if (File.Exists(value)) return value;
        var item = DownloadCatalog.TryGet(value);
        if (item is null) throw new FileNotFoundException($"checkpoint '{value}' does not exist (nor is it a downloadable name: see `DownloadCatalog`)", value);
        var dir = cacheDir ?? Directory;
        var path = Path.Combine(dir, item.FileName);
        if (!File.Exists(path))
            throw new FileNotFoundException($"{item.Name} is not downloaded yet (looked for {path}): `Download` {item.Name}" +
                                            (cacheDir is null ? "" : $" `CacheDir` {cacheDir}"), path);
        new CacheManifest(dir).Verify(item.FileName);
        return path;
    }
}
