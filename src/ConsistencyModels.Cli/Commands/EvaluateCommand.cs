// `cm evaluate`: FID, Inception Score, precision/recall and KID of sample npz files against a reference (official evaluator layout).
using ConsistencyModels.Presets;
using System.ComponentModel;
using System.Globalization;
using System.Text.Json;
using ConsistencyModels.IO.Downloads;
using ConsistencyModels.IO.Numpy;
using ConsistencyModels.Metrics;
using ConsistencyModels.Data;
using Spectre.Console;
using Spectre.Console.Cli;
using static TorchSharp.torch;

namespace ConsistencyModels.Cli.Commands;

internal sealed class EvaluateCommand : Command<EvaluateCommand.Settings>
{
    public const string FashionMnistTest = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";

    public sealed class Settings : CommandSettings
    {
        [CommandOption("--samples <PATH>"), Description("Samples: an npz with uint8 images in arr_0 (`cm generate --npz`), a folder of `cm sample` shards, or a dataset (for real-vs-real floors).")]
        public string Samples { get; init; } = "";

        [CommandOption("--reference <PATH>"), Description("Reference: an official reference-batch npz (arr_0 images and/or mu, sigma), a folder of npz shards, or a dataset (IDX file, image folder). " +
                                                          "Default with the fmnist extractor: Fashion-MNIST test (" + FashionMnistTest + ").")]
        public string? Reference { get; init; }

        [CommandOption("--feature-extractor <NAME>"), Description("inception (the official evaluator's Inception-v3, FID/IS), fmnist (the built-in Fashion-MNIST classifier, FID-FMNIST) or auto (default: fmnist for 32x32 grey samples, else inception).")]
        public string FeatureExtractor { get; init; } = "auto";

        [CommandOption("--inception <FILE>"), Description("The TorchScript inception-2015-12-05.pt, or 'inception' once downloaded with `cm download inception` (default: $CM_INCEPTION, else the download cache).")]
        public string? Inception { get; init; }

        [CommandOption("--num-samples <N>"), Description("Use only the first N samples (default: all).")]
        public long? NumSamples { get; init; }

        [CommandOption("--num-reference <N>"), Description("Use only the first N reference images (default: all).")]
        public int? NumReference { get; init; }

        [CommandOption("--image-size <N>"), Description("Size to read --samples at when it is a dataset (default 32).")]
        public int ImageSize { get; init; } = 32;

        [CommandOption("--channels <N>"), Description("Channels to read --samples with when it is a dataset (default 1).")]
        public int Channels { get; init; } = 1;

        [CommandOption("--batch-size <N>"), Description("Images per network call (default 100).")]
        public int BatchSize { get; init; } = 100;

        [CommandOption("--no-precision-recall"), Description("Skip k-NN precision/recall (quadratic in the set sizes).")]
        public bool NoPrecisionRecall { get; init; }

        [CommandOption("--no-kid"), Description("Skip KID.")]
        public bool NoKid { get; init; }

        [CommandOption("--kid-subsets <N>"), Description("KID: number of random subsets (default 100).")]
        public int KidSubsets { get; init; } = 100;

        [CommandOption("--kid-subset-size <N>"), Description("KID: rows per subset (default 1000; sets no larger use one subset of all rows).")]
        public int KidSubsetSize { get; init; } = 1000;

        [CommandOption("--json"), Description("Print the results as one JSON object on stdout (progress goes to stderr).")]
        public bool Json { get; init; }

        [CommandOption("--device <DEVICE>"), Description("cpu (default), cuda or cuda:N, for the feature network.")]
        public string Device { get; init; } = "cpu";

        [CommandOption("--threads <N>"), Description("CPU threads for libtorch.")]
        public int? Threads { get; init; }

        public override ValidationResult Validate()
        {
            if (Samples.Length == 0) return ValidationResult.Error("--samples is required: an npz of uint8 images or a folder of shards");
            if (BatchSize < 1) return ValidationResult.Error("--batch-size must be at least 1");
            if (NumSamples is < 2 || NumReference is < 2) return ValidationResult.Error("statistics need at least 2 images per set");
            return ValidationResult.Success();
        }
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellationToken)
    {
        if (s.Threads is int t) set_num_threads(t);
        var device = DeviceOption.Parse(s.Device);
        // With --json, stdout carries only the JSON; progress and messages go to stderr.
        var console = s.Json ? AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) }) : AnsiConsole.Console;

        // Every file is checked (dtype, rank, count, mu/sigma shapes) before a feature network is loaded or runs.
        ImageSource samples;
        if (IsNpz(s.Samples))
            samples = ImageSource.FromNpz(s.Samples, s.NumSamples)
                ?? throw new ArgumentException($"{s.Samples} has no images (arr_0): give sample files written by `cm generate --npz` or `cm sample`");
        else
        {
            var data = TrainingData.Open(s.Samples, s.ImageSize, s.Channels, classCond: false, InputLimits.FromEnvironment());
            samples = ImageSource.FromDataset(data, 0, s.NumSamples is long n ? (int)Math.Min(n, data.Count) : null);
        }
        samples.RequireScorable();
        int size = samples.Height, channels = samples.Channels;
        string choice = ExtractorChoice(s, size, channels);
        var (refImages, refStats, refName) = OpenReference(s, choice, size, channels);
        using IFeatureExtractor extractor = OpenExtractor(s, choice, size, channels, device);
        if (refStats is not null) Evaluation.CheckReferenceStatistics(extractor, refStats);

        console.MarkupLine($"features: [bold]{Markup.Escape(extractor.Name)}[/]");
        console.MarkupLine($"samples: {samples.Count} from {Markup.Escape(samples.Description)}");
        console.MarkupLine($"reference: {Markup.Escape(refName)}");
        EmbeddedSet? sampleSet = null, refSet = null;
        try
        {
            console.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
                .Start(ctx =>
                {
                    if (refImages is not null)
                    {
                        var refTask = ctx.AddTask("reference", maxValue: refImages.Count);
                        refSet = Evaluation.Embed(extractor, refImages, s.BatchSize, new SyncProgress<long>(n => refTask.Value = n), cancellationToken);
                    }
                    var task = ctx.AddTask("samples", maxValue: samples.Count);
                    sampleSet = Evaluation.Embed(extractor, samples, s.BatchSize, new SyncProgress<long>(n => task.Value = n), cancellationToken);
                });
            var options = new EvaluationOptions(!s.NoPrecisionRecall, 3, !s.NoKid, new KidOptions(s.KidSubsetSize, s.KidSubsets));
            var report = Evaluation.Compare(extractor, sampleSet!, refSet, refStats, options);
            if (s.Json) Console.Out.WriteLine(JsonSerializer.Serialize(ToJson(report, s, refName), new JsonSerializerOptions { WriteIndented = true }));
            else Print(report);
            return 0;
        }
        finally { sampleSet?.Dispose(); refSet?.Dispose(); refStats?.Dispose(); }
    }

    /// <summary>An npz file, or a folder of npz shards (not a dataset folder, which holds IDX or image files).</summary>
    private static bool IsNpz(string path) =>
        path.EndsWith(".npz", StringComparison.OrdinalIgnoreCase)
        || (Directory.Exists(path) && Directory.GetFiles(path, "*.npz").Length > 0 && !Directory.GetFiles(path, "*idx*").Any());

    /// <summary>fmnist or inception: what --feature-extractor asks for (auto: fmnist for 32x32 grey images).</summary>
    private static string ExtractorChoice(Settings s, int size, int channels)
    {
        string choice = s.FeatureExtractor.Trim().ToLowerInvariant();
        if (choice == "auto") choice = size == 32 && channels == 1 ? "fmnist" : "inception";
        if (choice is not ("fmnist" or "inception")) throw new ArgumentException($"--feature-extractor '{s.FeatureExtractor}': use inception, fmnist or auto");
        if (choice == "fmnist" && !(size == 32 && channels == 1))
            throw new ArgumentException($"--feature-extractor fmnist scores 32x32 grey images; the samples are {size}x{size}x{channels}");
        return choice;
    }

    private static IFeatureExtractor OpenExtractor(Settings s, string choice, int size, int channels, Device device) => choice == "fmnist"
        ? FashionMnistExtractor.LoadBuiltIn()
        : InceptionV3Extractor.Load(s.Inception is not null && DownloadCatalog.TryGet(s.Inception) is not null ? ModelCache.ResolveFile(s.Inception) : s.Inception, device);

    private static (ImageSource? Images, GaussianStatistics? Statistics, string Name) OpenReference(Settings s, string extractorChoice, int size, int channels)
    {
        string? path = s.Reference is not null && !File.Exists(s.Reference) && DownloadCatalog.TryGet(s.Reference) is not null
            ? ModelCache.ResolveFile(s.Reference) : s.Reference;          // e.g. --reference ref_imagenet64 after `cm download`
        if (path is null)
        {
            if (extractorChoice != "fmnist")
                throw new ArgumentException("--reference is required: an official reference batch (e.g. VIRTUAL_imagenet64_labeled.npz) or a dataset");
            if (!File.Exists(FashionMnistTest))
                throw new FileNotFoundException($"the default reference, Fashion-MNIST test, is not at {FashionMnistTest} (apt-get install dataset-fashion-mnist), or give --reference", FashionMnistTest);
            path = FashionMnistTest;
        }
        if (IsNpz(path))
        {
            var images = ImageSource.FromNpz(path, s.NumReference)?.RequireScorable();
            GaussianStatistics? stats = File.Exists(path) ? GaussianStatistics.FromNpz(Npz.Read(path, name => name is "mu" or "sigma"), source: path) : null;
            if (images is null && stats is null) throw new ArgumentException($"{path} has neither images (arr_0) nor statistics (mu, sigma)");
            if (stats is not null && images is not null && s.NumReference is not null) { stats.Dispose(); stats = null; } // a subset: use its own statistics
            return (images, stats, stats is not null ? $"{path} (FID against its mu/sigma{(images is null ? "" : $"; {images.Count} images for P/R and KID")})" : images!.Description);
        }
        var data = TrainingData.Open(path, size, channels, classCond: false, InputLimits.FromEnvironment());
        var source = ImageSource.FromDataset(data, 0, s.NumReference is int n ? Math.Min(n, data.Count) : null).RequireScorable();
        return (source, null, $"{path} ({source.Count} images at {size}x{size})");
    }

    private static void Print(EvaluationReport r)
    {
        var table = new Table().AddColumns("metric", "value");
        string F(double v) => v.ToString("G6", CultureInfo.InvariantCulture);
        table.AddRow(r.FeatureExtractor.StartsWith("fmnist") ? "FID-FMNIST" : "FID", F(r.Fid));
        if (r.InceptionScore is { } inception) table.AddRow($"Inception Score ({inception.Splits} split(s))", $"{F(inception.Mean)} ± {F(inception.Std)}");
        if (r.PrecisionRecall is { } pr) { table.AddRow("precision (k=3)", F(pr.Precision)); table.AddRow("recall (k=3)", F(pr.Recall)); }
        if (r.Kid is { } kid) table.AddRow($"KID ({kid.Subsets} x {kid.SubsetSize})", $"{F(kid.Mean)} ± {F(kid.Std)}");
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine($"FID statistics of the reference: {Markup.Escape(r.ReferenceStatistics)}");
        foreach (var note in r.Notes) AnsiConsole.MarkupLine($"[grey]{Markup.Escape(note)}[/]");
    }

    private static Dictionary<string, object?> ToJson(EvaluationReport r, Settings s, string refName) => new()
    {
        ["feature_extractor"] = r.FeatureExtractor,
        ["samples"] = s.Samples,
        ["num_samples"] = r.Samples,
        ["reference"] = refName,
        ["num_reference_images"] = r.ReferenceImages,
        ["fid"] = r.Fid,
        ["inception_score"] = r.InceptionScore?.Mean,
        ["inception_score_std"] = r.InceptionScore?.Std,
        ["precision"] = r.PrecisionRecall?.Precision,
        ["recall"] = r.PrecisionRecall?.Recall,
        ["kid"] = r.Kid?.Mean,
        ["kid_std"] = r.Kid?.Std,
        ["notes"] = r.Notes,
    };
}
