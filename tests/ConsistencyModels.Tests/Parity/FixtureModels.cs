// The two small-width models of the fixtures, loaded once per test run.
using ConsistencyModels.Presets;
using ConsistencyModels.IO;
using ConsistencyModels.IO.Checkpoints;
using ConsistencyModels.Nn;
using ConsistencyModels.Tests.IO;

namespace ConsistencyModels.Tests.Parity;

internal static class FixtureModels
{
    private static readonly Dictionary<string, UNetModel> Cache = [];

    /// <summary>"imagenet64" or "lsun256" with the given preconditioning; skips the test when fixtures are absent (fails it under CI).</summary>
    public static UNetModel Get(string which, DenoiserKind kind = DenoiserKind.Consistency)
    {
        lock (Cache)
        {
            string key = which + kind;
            if (Cache.TryGetValue(key, out var m)) return m;
            var configFile = which == "imagenet64"
                ? (kind == DenoiserKind.Edm ? "config_imagenet64_w32_edm.json" : "config_imagenet64_w32_consistency.json")
                : "config_lsun256_w32_consistency.json";
            var config = ModelConfigJson.Load(FixturePaths.Require("e2e/" + configFile)) with { Denoiser = kind };
            m = new UNetModel(config);
            ModelWeights.LoadInto(m, TorchCheckpoint.LoadStateDict(FixturePaths.Require($"model_{which}_topology.pt")), which, config);
            m.eval();
            return Cache[key] = m;
        }
    }
}
