// `cm sample`: many samples (e.g. 50,000 for FID) into npz shards; a rerun skips finished shards and rewrites none.
using System.ComponentModel;
using System.Text.Json;
using ConsistencyModels.IO;
using ConsistencyModels.IO.Images;
using ConsistencyModels.IO.Numpy;
using ConsistencyModels.Pipelines;
using ConsistencyModels.Sampling;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ConsistencyModels.Cli.Commands;

internal sealed class SampleCommand : Command<SampleCommand.Settings>
{
    public const string ManifestName = "sampling.json";

    public sealed class Settings : SamplingSettings
    {
        [CommandOption("--output-dir <DIR>"), Description("Folder for the shards (samples_00000.npz, ...: arr_0 uint8 NHWC, arr_1 labels) and " + ManifestName + ", which records the settings.")]
        public string OutputDir { get; init; } = "";

        [CommandOption("--shard-size <N>"), Description("Samples per shard file (default 1000). An interrupted run loses at most the shard in progress.")]
        public int ShardSize { get; init; } = 1000;

        public override ValidationResult Validate()
        {
            var shared = base.Validate();
            if (!shared.Successful) return shared;
            if (OutputDir.Length == 0) return ValidationResult.Error("--output-dir DIR is required: the shards go there");
            if (File.Exists(OutputDir)) return ValidationResult.Error($"--output-dir '{OutputDir}' is an existing file");
            if (ShardSize < 1) return ValidationResult.Error($"--shard-size must be at least 1 (got {ShardSize})");
            if (NumSamples is null) return ValidationResult.Error("--num-samples N is required (50000 for the paper's FID)");
            return ValidationResult.Success();
        }
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellationToken)
    {
        OutputChecks.Directory("--output-dir", s.OutputDir);
        using var onnx = s.Onnx is null ? null : OnnxBackend.Open(s);        // --onnx: ONNX Runtime over the exported file
        var plan = onnx is null ? GenerationPlan.From(s, rowsByDefault: false) : GenerationPlan.From(s, onnx.Spec, rowsByDefault: false);
        // Shards need noise indexed by sample: default to one stream per sample, which any shard can draw alone.
        var request = s.Generator is null ? plan.Request with { Generator = GeneratorKind.DetermIndiv } : plan.Request;
        request.Validate(plan.Config);
        if (request.Generator == GeneratorKind.Dummy || !request.AdvanceGeneratorPerBatch)
            throw new ArgumentException("cm sample needs per-sample noise (--generator determ or determ-indiv, without --official-batch-noise), so that shards can be redone alone");

        if (onnx is not null) OnnxBackend.Convert(request);                 // refuses a sampler ONNX Runtime lacks, by its flag
        var device = onnx is null ? DeviceOption.Parse(s.Device) : TorchSharp.torch.CPU;
        var precision = Parse.Precision(s.Precision);
        if (s.Threads is int threads && onnx is null) TorchSharp.torch.set_num_threads(threads);

        // Under mpirun, rank r makes the shards i with i mod size = r; rank 0 writes the manifest before anyone checks it.
        var world = Cluster.World;
        var manifest = Manifest(s, plan, request);
        if (world.IsRoot)
        {
            Directory.CreateDirectory(s.OutputDir);
            CheckManifest(Path.Combine(s.OutputDir, ManifestName), manifest);
        }
        world.Barrier();
        if (!world.IsRoot) CheckManifest(Path.Combine(s.OutputDir, ManifestName), manifest);

        int n = request.NumSamples, shards = (n + s.ShardSize - 1) / s.ShardSize;
        var todo = Enumerable.Range(0, shards).Where(i => i % world.Size == world.Rank)
            .Where(i => !ShardComplete(ShardPath(s.OutputDir, i), ShardCount(i, n, s.ShardSize))).ToList();
        int alreadyDone = n - todo.Sum(i => ShardCount(i, n, s.ShardSize));
        AnsiConsole.MarkupLine($"[grey]model:[/] {Markup.Escape(plan.ModelName)}  [grey]sampler:[/] {Markup.Escape(plan.Describe())}  " +
                               $"[grey]generator:[/] {Parse.Name(request.Generator)} seed {request.Seed}");
        AnsiConsole.MarkupLine($"{n} samples in {shards} shard(s) of {s.ShardSize}: {shards - todo.Count} complete, {todo.Count} to do");
        if (world.Size > 1) AnsiConsole.MarkupLine($"{world.Size} MPI ranks: this rank (0) makes shards 0, {world.Size}, {2 * world.Size}, ...");
        if (todo.Count == 0 && world.Size == 1) { AnsiConsole.MarkupLine($"nothing to do; evaluate with: cm evaluate --samples {Markup.Escape(s.OutputDir)}"); return 0; }

        using var pipeline = onnx is null ? ModelLoading.Load(plan.Model, device, precision) : null;
        Func<GenerationRequest, IProgress<GenerationProgress>, CancellationToken, ImageBatch> generate = onnx is null ? pipeline!.Generate : onnx.Generate;
        var started = DateTime.UtcNow;
        AnsiConsole.Progress().AutoClear(false).HideCompleted(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask("samples", maxValue: n);
                task.Value = alreadyDone;
                int finished = alreadyDone;
                foreach (int shard in todo)
                {
                    int first = shard * s.ShardSize, count = ShardCount(shard, n, s.ShardSize);
                    var shardRequest = request with { FirstSample = first, EndSample = first + count };
                    var progress = new SyncProgress<GenerationProgress>(p => task.Value = finished + (p.SamplesDone - first));
                    var result = generate(shardRequest, progress, cancellationToken);
                    WriteShard(ShardPath(s.OutputDir, shard), result);
                    finished += count;
                    task.Value = finished;
                    task.Description = $"samples (shard {shard + 1}/{shards} written)";
                }
            });
        world.Barrier();                                           // every rank's shards are written
        double seconds = (DateTime.UtcNow - started).TotalSeconds;
        int made = n - alreadyDone;
        AnsiConsole.MarkupLine($"wrote {made} samples{(world.Size > 1 ? " on rank 0 (all ranks are done)" : "")} in {seconds:F1} s ({made / seconds:F1} images/s) to {Markup.Escape(s.OutputDir)}");
        AnsiConsole.MarkupLine($"evaluate with: cm evaluate --samples {Markup.Escape(s.OutputDir)}");
        return 0;
    }

    internal static string ShardPath(string dir, int shard) => Path.Combine(dir, $"samples_{shard:D5}.npz");

    private static int ShardCount(int shard, int n, int shardSize) => Math.Min(shardSize, n - shard * shardSize);

    /// <summary>A shard counts as done when it is a readable npz whose arr_0 holds the expected number of images
    /// (files are written to a temporary name and renamed, so a partial file never has the final name).</summary>
    private static bool ShardComplete(string path, int expected)
    {
        if (!File.Exists(path)) return false;
        try { return Npz.ReadHeaders(path).TryGetValue("arr_0", out var h) && h.Shape.Length == 4 && h.Shape[0] == expected; }
        catch (Exception e) when (e is InvalidDataException or IOException or FormatException or NotSupportedException) { return false; }
    }

    private static void WriteShard(string path, ImageBatch r)
    {
        var images = new NpyArray("arr_0", NpyDtype.UInt8, [r.Count, r.Height, r.Width, r.Channels], r.Images);
        if (r.Labels is { } labels) Npz.Write(path, images, NpyArray.Create<long>("arr_1", labels, labels.Length));
        else Npz.Write(path, images);
    }

    private static SortedDictionary<string, string> Manifest(Settings s, GenerationPlan plan, GenerationRequest request) => new(StringComparer.Ordinal)
    {
        ["model"] = plan.ModelName,
        ["checkpoint"] = s.Onnx is not null ? $"onnx {Path.GetFullPath(s.Onnx)} ({new FileInfo(s.Onnx).Length} bytes)"
            : s.Checkpoint is null ? "built-in" : $"{Path.GetFullPath(s.Checkpoint)} ({new FileInfo(s.Checkpoint).Length} bytes)",
        ["sampler"] = plan.Describe(),
        ["churn"] = FormattableString.Invariant($"s_churn={request.Sampling.Churn.SChurn} s_tmin={request.Sampling.Churn.STmin} s_tmax={request.Sampling.Churn.STmax} s_noise={request.Sampling.Churn.SNoise}"),
        ["seed"] = request.Seed.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["generator"] = Parse.Name(request.Generator),
        ["class_labels"] = s.ClassLabels ?? "random",
        ["num_samples"] = request.NumSamples.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["shard_size"] = s.ShardSize.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["precision"] = s.Precision.ToLowerInvariant(),
    };

    /// <summary>Writes the manifest on a fresh folder; on a rerun refuses to mix shards made with other settings.</summary>
    private static void CheckManifest(string path, SortedDictionary<string, string> manifest)
    {
        if (File.Exists(path))
        {
            var old = JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllText(path)) ?? [];
            var differences = manifest.Where(kv => !old.TryGetValue(kv.Key, out var v) || v != kv.Value)
                .Select(kv => $"{kv.Key}: {(old.TryGetValue(kv.Key, out var v) ? v : "(none)")} -> {kv.Value}").ToList();
            if (differences.Count > 0)
                throw new ArgumentException($"{Path.GetDirectoryName(path)} holds shards of another run ({string.Join("; ", differences)}); " +
                                            "use a new --output-dir, or delete the folder to start over");
            return;
        }
        AtomicFile.Write(path, stream => JsonSerializer.Serialize(stream, manifest, new JsonSerializerOptions { WriteIndented = true }));
    }
}
