// Checkpoint files of a training run in the official layout (train_util.py save(): model/ema/target/opt per step),
// plus train_state{step}.json, written last, which marks the set complete for --resume.
using System.Globalization;
using System.Text.Json;

namespace ConsistencyModels.Training;

public sealed record TrainingState(long Step, string Mode, long Seed, int GlobalBatchSize, IReadOnlyList<double> EmaRates, string ModelConfigJson);

public static class TrainingCheckpoints
{
    public static string Model(string dir, long step) => Path.Combine(dir, $"model{step:D6}.pt");
    public static string Target(string dir, long step) => Path.Combine(dir, $"target_model{step:D6}.pt");
    public static string Optimizer(string dir, long step) => Path.Combine(dir, $"opt{step:D6}.pt");
    /// <summary>ema_{rate}_{step:06d}.pt with the rate as Python prints the float (shortest round trip).</summary>
    public static string Ema(string dir, double rate, long step) => Path.Combine(dir, $"ema_{RateName(rate)}_{step:D6}.pt");
    public static string State(string dir, long step) => Path.Combine(dir, $"train_state{step:D6}.json");
    public static string Samples(string dir, long step) => Path.Combine(dir, $"samples{step:D6}.png");
    /// <summary>The model config with the official flag names, for <c>cm generate --model-config</c>.</summary>
    public static string Config(string dir) => Path.Combine(dir, "config.json");

    public static string RateName(double rate) => rate.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>The newest step whose state file exists (it is written after every other file of the set), or null.</summary>
    public static long? Latest(string dir)
    {
        if (!Directory.Exists(dir)) return null;
        long? best = null;
        foreach (var f in Directory.EnumerateFiles(dir, "train_state*.json"))
        {
            var stem = Path.GetFileNameWithoutExtension(f)["train_state".Length..];
            if (long.TryParse(stem, NumberStyles.None, CultureInfo.InvariantCulture, out long s) && (best is null || s > best)) best = s;
        }
        return best;
    }

    public static void WriteState(string dir, TrainingState state) =>
        IO.AtomicFile.Write(State(dir, state.Step), s => JsonSerializer.Serialize(s, state, new JsonSerializerOptions { WriteIndented = true }));

    public static TrainingState ReadState(string dir, long step)
    {
        var path = State(dir, step);
        using var s = File.OpenRead(path);
        return JsonSerializer.Deserialize<TrainingState>(s) ?? throw new InvalidDataException($"{path}: empty training state");
    }
}
