// Where downloaded checkpoints and evaluator files live: $CM_CACHE_DIR, else $XDG_CACHE_HOME/consistency-models, else ~/.cache/consistency-models.
namespace ConsistencyModels;

public static class ModelCache
{
    public static string Directory
    {
        get
        {
            if (Environment.GetEnvironmentVariable("CM_CACHE_DIR") is { Length: > 0 } explicitDir) return explicitDir;
            var xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
            var root = xdg is { Length: > 0 } ? xdg : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
            return Path.Combine(root, "consistency-models");
        }
    }
}
