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

/// <summary>
/// train_state{step}.json: which run wrote a checkpoint set (checked on resume); its presence marks the set complete.
/// <see cref="TotalSteps"/>, <see cref="EmaHalfLifeKimg"/> and <see cref="EmaRampupRatio"/> are null in records written
/// before they were kept (and the half-life ones in runs without a half-life EMA). <see cref="Precision"/> (the enum's
/// name) and <see cref="LossScaleLog2"/> are recorded by mixed-precision runs only. <see cref="LearningRate"/> is null in
/// records written before it was kept: there the optimiser file's rate is the run's (<see cref="RAdamCheckpoint.LearningRate"/>).
/// </summary>
public sealed record CheckpointManifest(long Step, string Mode, long Seed, int GlobalBatchSize, IReadOnlyList<double> EmaRates, string ModelConfigJson,
                                        long? TotalSteps = null, double? EmaHalfLifeKimg = null, double? EmaRampupRatio = null,
                                        string? Recipe = null, string? Precision = null, double? LossScaleLog2 = null,
                                        double? LearningRate = null);

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

    /// <summary>The run's record of <paramref name="step"/>; a file that is not one is refused with one line naming it.</summary>
    public static CheckpointManifest ReadState(string dir, long step)
    {
        var path = State(dir, step);
        CheckpointManifest? state;
        try
        {
            using var s = File.OpenRead(path);
            state = JsonSerializer.Deserialize<CheckpointManifest>(s);
        }
        catch (JsonException e) { throw Corrupt(path, e.Message); }
        catch (NotSupportedException e) { throw Corrupt(path, e.Message); }
        if (state is null) throw Corrupt(path, "it holds null");
        if (state.Mode is null || state.ModelConfigJson is null || state.EmaRates is null)
            throw Corrupt(path, $"it lacks {(state.Mode is null ? "Mode" : state.ModelConfigJson is null ? "ModelConfigJson" : "EmaRates")}");
        if (state.Step != step) throw Corrupt(path, $"it records step {state.Step}");
        return state;
    }

    private static InvalidDataException Corrupt(string path, string why) =>
        new($"`Resume`: {path} is not a readable training state ({Shorten(why.ReplaceLineEndings(" "))}); " +
            "delete it to resume from the checkpoint before it, or train into another folder");

    private static string Shorten(string s) => s.Length <= 200 ? s : s[..200] + "...";

    /// <summary>
    /// Whether a consistency checkpoint came from easy consistency tuning, so that tuning can go on from it (at a finer
    /// gap): ECT trains its network under EDM's scalings, so its weights are an EDM-preconditioned network. Known by the
    /// train_state record beside a run's checkpoint, a safetensors file's "recipe" metadata, or a built-in model's.
    /// </summary>
    public static bool TunedByEct(string file)
    {
        if (!File.Exists(file)) return BuiltInModels.TryGet(file, out var builtIn) && EctRecipe(BuiltInModels.Metadata(builtIn!));
        if (file.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase) && EctRecipe(Safetensors.ReadMetadata(file))) return true;
        var dir = Path.GetDirectoryName(Path.GetFullPath(file))!;
        return Latest(dir) is long step && ReadState(dir, step).Mode == nameof(TrainingMode.EasyConsistencyTuning);
    }

    // The recipe line Recipe() writes ("ect, q 16, ..."), as `cm convert --metadata recipe=...` keeps it (with or without its "recipe: " label).
    private static bool EctRecipe(IReadOnlyDictionary<string, string> metadata) =>
        metadata.TryGetValue("recipe", out var r) && (r.StartsWith("ect,", StringComparison.Ordinal) || r.StartsWith("recipe: ect,", StringComparison.Ordinal));

    /// <summary>The newest complete checkpoint's record in <paramref name="dir"/> and its file, or null when there is none.</summary>
    public static (CheckpointManifest Manifest, string Path)? LatestState(string dir) =>
        Latest(dir) is long step ? (ReadState(dir, step), State(dir, step)) : null;

    /// <summary>
    /// Refuses to continue the run recorded in <paramref name="recorded"/> (read from <paramref name="path"/>) with
    /// <paramref name="options"/>: another mode or model always; another seed, batch size, learning rate, recipe,
    /// precision or EMA rates unless
    /// <see cref="TrainingOptions.ResumeWithChanges"/> (those runs are no longer the uninterrupted run). One line,
    /// naming the file and every recorded and requested value that differ.
    /// </summary>
    public static void CheckResume(CheckpointManifest recorded, string path, TrainingOptions options)
    {
        if (!Enum.TryParse<TrainingMode>(recorded.Mode, out var mode) || !Enum.IsDefined(mode))
            throw new InvalidDataException($"`Resume`: {path} records an unknown mode '{Shorten(recorded.Mode)}'");
        if (mode != options.Mode)
            throw new InvalidDataException($"`Mode`: {path} records a {mode} run, requested {options.Mode}");
        var mine = ModelConfigJson.ToJson(options.OnlineModel, indented: false);
        if (recorded.ModelConfigJson != mine)
            throw new InvalidDataException($"`Resume`: {path} records another model: {ModelDifferences(recorded.ModelConfigJson, mine)}");
        var changes = new List<string>();
        if (recorded.Seed != options.Seed) changes.Add($"`Seed` recorded {recorded.Seed}, requested {options.Seed}");
        if (recorded.GlobalBatchSize != options.GlobalBatchSize)
            changes.Add($"`GlobalBatchSize` recorded {recorded.GlobalBatchSize}, requested {options.GlobalBatchSize}");
        if ((recorded.Precision ?? nameof(Precision.Fp32)) != options.Precision.ToString())
            changes.Add($"`Precision` recorded {(recorded.Precision ?? nameof(Precision.Fp32)).ToLowerInvariant()}, requested {options.Precision.ToString().ToLowerInvariant()}");
        else if (recorded.Recipe is not null && recorded.Recipe != Recipe(options))
            changes.Add($"`Recipe` recorded '{Shorten(recorded.Recipe)}', requested '{Recipe(options)}'");
        // Records from before the learning rate was kept: Load compares the optimiser file's rate.
        if (recorded.LearningRate is double lr && lr != options.LearningRate)
            changes.Add(FormattableString.Invariant($"`LearningRate` recorded {lr}, requested {options.LearningRate}"));
        if (!recorded.EmaRates.SequenceEqual(options.EmaRates))
            changes.Add($"`EmaRates` recorded {string.Join(",", recorded.EmaRates.Select(RateName))}, requested {string.Join(",", options.EmaRates.Select(RateName))}");
        if (changes.Count > 0 && !options.ResumeWithChanges)
            throw new ArgumentException($"`Resume`: {path} records another run: {string.Join("; ", changes)} " +
                                        "(`ResumeWithChanges` continues with the requested values; the result is then not the uninterrupted run)");
    }

    /// <summary>"key recorded a, requested b" for every key of two model-config JSON objects that differs.</summary>
    private static string ModelDifferences(string recordedJson, string requestedJson)
    {
        System.Text.Json.Nodes.JsonObject? a = null, b = null;
        try { a = System.Text.Json.Nodes.JsonNode.Parse(recordedJson) as System.Text.Json.Nodes.JsonObject; } catch (JsonException) { }
        try { b = System.Text.Json.Nodes.JsonNode.Parse(requestedJson) as System.Text.Json.Nodes.JsonObject; } catch (JsonException) { }
        if (a is null || b is null) return $"recorded {Shorten(recordedJson)}, requested {Shorten(requestedJson)}";
        var parts = new List<string>();
        foreach (var key in a.Select(kv => kv.Key).Union(b.Select(kv => kv.Key)))
        {
            string x = a[key]?.ToJsonString() ?? "none", y = b[key]?.ToJsonString() ?? "none";
            if (x != y) parts.Add($"{key} recorded {Shorten(x)}, requested {y}");
        }
        return parts.Count > 0 ? string.Join("; ", parts) : $"recorded {Shorten(recordedJson)}, requested {Shorten(requestedJson)}";
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
        // The fp32 weights (the masters in mixed precision, as upstream's master_params_to_state_dict).
        TorchCheckpoint.Save(Model(dir, step), keys.Zip(state.Parameters, KeyValuePair.Create));
        foreach (var ema in state.Emas) TorchCheckpoint.Save(Ema(dir, ema, step), keys.Zip(ema.Parameters, KeyValuePair.Create));
        if (state.TargetParameters is { } target) TorchCheckpoint.Save(Target(dir, step), keys.Zip(target, KeyValuePair.Create));
        RAdamCheckpoint.Save(Optimizer(dir, step), state.Optimizer);
        IO.AtomicFile.Write(Config(dir), s =>
        {
            using var w = new StreamWriter(s);
            w.Write(ModelConfigJson.ToJson(model.Config));
        });
        WriteState(dir, new CheckpointManifest(step, options.Mode.ToString(), options.Seed, options.GlobalBatchSize, options.EmaRates,
                                               ModelConfigJson.ToJson(model.Config, indented: false), options.Schedule.TotalSteps,
                                               options.EmaHalfLifeKimg, options.EmaHalfLifeKimg is null ? null : options.EmaRampupRatio,
                                               Recipe(options), state.Precision == Precision.Fp32 ? null : state.Precision.ToString(),
                                               state.Precision == Precision.Fp32 ? null : state.LossScaleLog2, state.Optimizer.Options.LearningRate));
    }

    /// <summary>
    /// The run's loss and schedules in one line (its length apart, kept as TotalSteps): `cm train` prints it at the start,
    /// and a resume whose defaults or flags would train otherwise (another recipe default, another q or s1) is refused.
    /// </summary>
    public static string Recipe(TrainingOptions o)
    {
        var c = o.Schedule;
        var line = o.Mode switch
        {
            TrainingMode.Edm => FormattableString.Invariant($"edm, weighting {o.ResolvedWeightSchedule}"),
            TrainingMode.EasyConsistencyTuning => FormattableString.Invariant(
                $"ect, q {o.Ect.Q}, mapping {o.Ect.Mapping}, huber c {o.Ect.HuberC}, {(o.EctStageSteps == TrainingOptions.EctSingleStage ? "one stage" : $"a new stage every {o.EctStageSteps} steps")}"),
            _ => FormattableString.Invariant(
                $"loss {o.LossNorm}, weighting {o.ResolvedWeightSchedule}, pairs {o.IndexSampling}, target EMA {c.TargetEmaMode} {c.StartEma} ({c.Variant}), N {c.ScaleMode} {c.StartScales} -> {c.EndScales}"),
        };
        return o.Precision == Precision.Fp32 ? line : $"{line}, mixed precision {o.Precision.ToString().ToLowerInvariant()}";
    }

    /// <summary>Loads the checkpoint of <paramref name="step"/> in options.OutputDirectory into <paramref name="state"/>, after checking it is of the same model and mode.</summary>
    public static void Load(TrainingState state, TrainingOptions options, long step)
    {
        string dir = options.OutputDirectory;
        var manifest = ReadState(dir, step);
        CheckResume(manifest, State(dir, step), options);
        var model = state.Online;
        bool mixed = state.Precision != Precision.Fp32;
        LoadInto(model, Model(dir, step), mixed ? state.Parameters : null);
        if (state.Target is not null) LoadInto(state.Target, Target(dir, step), mixed ? state.TargetParameters : null);
        foreach (var ema in state.Emas)
        {
            // A rate the run did not have (ResumeWithChanges) starts from the resumed online weights, as upstream's
            // _load_ema_parameters keeps its copy of the master parameters when no EMA file exists.
            if (ema.HalfLifeKimg is null && !manifest.EmaRates.Contains(ema.Rate) && !File.Exists(Ema(dir, ema, step)))
            {
                using (no_grad()) foreach (var (dst, src) in ema.Parameters.Zip(state.Parameters)) dst.copy_(src);
                continue;
            }
            var sd = TorchCheckpoint.LoadStateDict(Ema(dir, ema, step));
            try
            {
                var keys = model.state_dict().Keys.ToList();
                using (no_grad()) for (int i = 0; i < keys.Count; i++) ema.Parameters[i].copy_(sd[keys[i]]);
            }
            finally { foreach (var t in sd.Values) t.Dispose(); }
        }
        RAdamCheckpoint.Load(Optimizer(dir, step), state.Optimizer);
        // The optimiser file restores its learning rate (as upstream's load_state_dict). Another one is a change (for
        // records from before the rate was kept, CheckResume could not see it): asked for, it applies from this step on
        // (a learning-rate drop); otherwise the resume is refused, and the state loaded so far is the caller's to drop.
        if (state.Optimizer.Options.LearningRate is var saved && saved != options.LearningRate)
        {
            if (!options.ResumeWithChanges)
                throw new ArgumentException(FormattableString.Invariant(
                    $"`Resume`: {Optimizer(dir, step)} holds `LearningRate` {saved}, requested {options.LearningRate} (`ResumeWithChanges` continues at the requested rate)"));
            state.Optimizer.Options = state.Optimizer.Options with { LearningRate = options.LearningRate };
        }
        // A run continued in another precision (ResumeWithChanges) starts its loss scale afresh.
        state.LossScaleLog2 = manifest.LossScaleLog2 is double lg && manifest.Precision == state.Precision.ToString() ? lg : LossScale.InitialFor(state.Precision);
        state.Step = step;
    }

    /// <summary>A checkpoint's weights into <paramref name="m"/> (checked key by key) and, in mixed precision, exactly into its fp32 <paramref name="masters"/>.</summary>
    private static void LoadInto(UNetModel m, string path, IReadOnlyList<Tensor>? masters)
    {
        var sd = TorchCheckpoint.LoadStateDict(path);
        try
        {
            ModelWeights.LoadInto(m, sd, path, m.Config);
            if (masters is null) return;
            var keys = m.state_dict().Keys.ToList();
            using (no_grad()) for (int i = 0; i < keys.Count; i++) masters[i].copy_(sd[keys[i]]);
        }
        finally { foreach (var t in sd.Values) t.Dispose(); }
    }
}
