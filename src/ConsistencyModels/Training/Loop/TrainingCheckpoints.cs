// Checkpoint files of a training run in the official layout (train_util.py save(): model/ema/target/opt per step),
// plus train_state{step}.json, written last, which marks the set complete for --resume.
using ConsistencyModels.Presets;
using System.Globalization;
using System.Text.Json;
using ConsistencyModels.IO;
using ConsistencyModels.IO.Checkpoints;
using ConsistencyModels.Nn;
using static TorchSharp.torch;

namespace ConsistencyModels.Training;

/// <summary>train_state{step}.json: which run wrote a checkpoint set (checked on resume); its presence marks the set complete.</summary>
public sealed record CheckpointManifest(long Step, string Mode, long Seed, int GlobalBatchSize, IReadOnlyList<double> EmaRates, string ModelConfigJson);

public static class TrainingCheckpoints
{
    public static string Model(string dir, long step) => Path.Combine(dir, $"model{step:D6}.pt");
    public static string Target(string dir, long step) => Path.Combine(dir, $"target_model{step:D6}.pt");
    public static string Optimizer(string dir, long step) => Path.Combine(dir, $"opt{step:D6}.pt");
    /// <summary>ema_{rate}_{step:06d}.pt with the rate as Python prints the float (shortest round trip).</summary>
    public static string Ema(string dir, double rate, long step) => Path.Combine(dir, $"ema_{RateName(rate)}_{step:D6}.pt");
    /// <summary>The file of one EMA copy: ema_{rate}_{step}.pt, or ema_hl{kimg}kimg_{step}.pt for a half-life EMA.</summary>
    public static string Ema(string dir, EmaWeights ema, long step) => ema.HalfLifeKimg is double kimg
        ? Path.Combine(dir, $"ema_hl{RateName(kimg)}kimg_{step:D6}.pt")
        : Ema(dir, ema.Rate, step);
    public static string State(string dir, long step) => Path.Combine(dir, $"train_state{step:D6}.json");
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

    public static void WriteState(string dir, CheckpointManifest state) =>
        IO.AtomicFile.Write(State(dir, state.Step), s => JsonSerializer.Serialize(s, state, new JsonSerializerOptions { WriteIndented = true }));

    public static CheckpointManifest ReadState(string dir, long step)
    {
        var path = State(dir, step);
        using var s = File.OpenRead(path);
        return JsonSerializer.Deserialize<CheckpointManifest>(s) ?? throw new InvalidDataException($"{path}: empty training state");
    }

    /// <summary>
    /// Writes the checkpoint of <paramref name="state"/>.Step into options.OutputDirectory: model, one file per EMA,
    /// target, optimiser, config.json, and train_state last.
    /// </summary>
    public static void Save(TrainingState state, TrainingOptions options)
    {
        string dir = options.OutputDirectory;
        long step = state.Step;
        var model = state.Online;
        Directory.CreateDirectory(dir);
        var keys = model.state_dict().Keys.ToList();
        TorchCheckpoint.Save(Model(dir, step), model.state_dict());
        foreach (var ema in state.Emas) TorchCheckpoint.Save(Ema(dir, ema, step), keys.Zip(ema.Parameters, KeyValuePair.Create));
        if (state.Target is not null) TorchCheckpoint.Save(Target(dir, step), state.Target.state_dict());
        RAdamCheckpoint.Save(Optimizer(dir, step), state.Optimizer);
        IO.AtomicFile.Write(Config(dir), s =>
        {
            using var w = new StreamWriter(s);
            w.Write(ModelConfigJson.ToJson(model.Config));
        });
        WriteState(dir, new CheckpointManifest(step, options.Mode.ToString(), options.Seed, options.GlobalBatchSize, options.EmaRates,
                                               ModelConfigJson.ToJson(model.Config, indented: false)));
    }

    /// <summary>Loads the checkpoint of <paramref name="step"/> in options.OutputDirectory into <paramref name="state"/>, after checking it is of the same model and mode.</summary>
    public static void Load(TrainingState state, TrainingOptions options, long step)
    {
        string dir = options.OutputDirectory;
        var manifest = ReadState(dir, step);
        var model = state.Online;
        var mine = ModelConfigJson.ToJson(model.Config, indented: false);
        if (manifest.ModelConfigJson != mine)
            throw new InvalidDataException($"`Resume`: {State(dir, step)} was written for model {manifest.ModelConfigJson}, not {mine}");
        if (!Enum.TryParse<TrainingMode>(manifest.Mode, out var recorded) || recorded != options.Mode)
            throw new InvalidDataException($"`Resume`: the checkpoints in {dir} are from a {manifest.Mode} run, not {options.Mode}");
        LoadInto(model, Model(dir, step));
        if (state.Target is not null) LoadInto(state.Target, Target(dir, step));
        foreach (var ema in state.Emas)
        {
            var sd = TorchCheckpoint.LoadStateDict(Ema(dir, ema, step));
            try
            {
                var keys = model.state_dict().Keys.ToList();
                using (no_grad()) for (int i = 0; i < keys.Count; i++) ema.Parameters[i].copy_(sd[keys[i]]);
            }
            finally { foreach (var t in sd.Values) t.Dispose(); }
        }
        RAdamCheckpoint.Load(Optimizer(dir, step), state.Optimizer);
        state.Step = step;
    }

    private static void LoadInto(UNetModel m, string path)
    {
        var sd = TorchCheckpoint.LoadStateDict(path);
        try { ModelWeights.LoadInto(m, sd, path, m.Config); }
        finally { foreach (var t in sd.Values) t.Dispose(); }
    }
}
