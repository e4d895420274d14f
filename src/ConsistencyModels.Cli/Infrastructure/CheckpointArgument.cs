// --checkpoint / --teacher values: a file, or a downloadable name found in the cache (`cm download NAME`).
using ConsistencyModels.IO.Downloads;
using ConsistencyModels.Presets;

namespace ConsistencyModels.Cli;

internal static class CheckpointArgument
{
    /// <summary>
    /// The file to load: <paramref name="checkpoint"/> as a path or a cached catalog name; with no checkpoint, the cached
    /// file of the released <paramref name="preset"/>. Null for built-in models. Cached files are checked against the
    /// cache manifest (SHA-256) first.
    /// </summary>
    public static string? Resolve(string? checkpoint, string? preset)
    {
        if (checkpoint is not null) return ModelCache.ResolveFile(checkpoint);
        if (preset is null || BuiltInModels.TryGet(preset, out _) || !CheckpointPresets.TryGet(preset, out var released)) return null;
        return ModelCache.ResolveFile(released!.Name);
    }
}
