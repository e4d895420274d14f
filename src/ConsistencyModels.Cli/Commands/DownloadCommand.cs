// `cm download`: released checkpoints and evaluator files into the cache, resumable, verified, recorded with SHA-256.
using ConsistencyModels.Presets;
using System.ComponentModel;
using ConsistencyModels.IO.Downloads;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ConsistencyModels.Cli.Commands;

internal sealed class DownloadCommand : AsyncCommand<DownloadCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandArgument(0, "[NAMES]"), Description("Checkpoint names (cd_imagenet64_lpips, ...), 'all' (the 12 released checkpoints), 'evaluator' (Inception + reference batches), or single evaluator files (inception, ref_imagenet64, ...).")]
        public string[] Names { get; init; } = [];

        [CommandOption("--cache-dir <DIR>"), Description("Cache folder (default: $CM_CACHE_DIR, else $XDG_CACHE_HOME/consistency-models, else ~/.cache/consistency-models).")]
        public string? CacheDir { get; init; }

        [CommandOption("--base-url <URL>"), Description("A mirror with the same paths as " + DownloadCatalog.DefaultBaseUrl + " (consistency/<name>.pt, diffusion/jul-2021/ref_batches/...).")]
        public string? BaseUrl { get; init; }

        [CommandOption("--list"), Description("List the downloadable names and what is in the cache.")]
        public bool List { get; init; }

        [CommandOption("--force"), Description("Download again even when a verified copy is cached.")]
        public bool Force { get; init; }

        [CommandOption("--parallel <N>"), Description("Files downloaded at the same time (default 2).")]
        public int Parallel { get; init; } = 2;

        public override ValidationResult Validate()
        {
            if (!List && Names.Length == 0) return ValidationResult.Error("name what to download (e.g. cd_imagenet64_lpips, all, evaluator), or --list");
            if (Parallel < 1) return ValidationResult.Error("--parallel must be at least 1");
            if (BaseUrl is not null && !Uri.TryCreate(BaseUrl, UriKind.Absolute, out _)) return ValidationResult.Error($"--base-url '{BaseUrl}' is not an absolute URL");
            return ValidationResult.Success();
        }
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings s, CancellationToken cancellationToken)
    {
        string dir = s.CacheDir ?? ModelCache.Directory;
        if (s.List) { PrintList(dir); return 0; }
        var items = DownloadCatalog.Resolve(s.Names);
        using var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
        http.DefaultRequestHeaders.UserAgent.ParseAdd("consistency-models-dotnet/1.0");
        var downloader = new FileDownloader(http);
        var failures = new List<string>();
        using var gate = new SemaphoreSlim(s.Parallel);
        await AnsiConsole.Progress().AutoClear(false).HideCompleted(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(),
                     new TransferSpeedColumn(), new RemainingTimeColumn())
            .StartAsync(async ctx =>
            {
                var tasks = items.Select(async item =>
                {
                    var bar = ctx.AddTask(item.Name, autoStart: false);
                    await gate.WaitAsync(cancellationToken);
                    try
                    {
                        bar.StartTask();
                        var progress = new SyncProgress<DownloadProgress>(p =>
                        {
                            if (p.Total is long total) bar.MaxValue = total;
                            bar.Value = p.Received;
                        });
                        var entry = await downloader.DownloadAsync(item, dir, s.BaseUrl, s.Force, progress, cancellationToken);
                        bar.MaxValue = entry.Size; bar.Value = entry.Size;
                        bar.Description = $"{item.Name} [green]ok[/] sha256 {entry.Sha256[..12]}…";
                    }
                    catch (Exception e) when (e is DownloadException or InvalidDataException)
                    {
                        lock (failures) failures.Add($"{item.Name}: {OptionNames.ForCli(e.Message)}");
                        bar.Description = $"{item.Name} [red]failed[/]";
                    }
                    finally { bar.StopTask(); gate.Release(); }
                });
                await Task.WhenAll(tasks);
            });
        AnsiConsole.MarkupLine($"cache: {Markup.Escape(dir)}");
        foreach (var f in failures) Console.Error.WriteLine("error: " + f);
        return failures.Count == 0 ? 0 : 1;
    }

    private static void PrintList(string dir)
    {
        var cached = File.Exists(Path.Combine(dir, CacheManifest.FileName)) ? new CacheManifest(dir).Read() : new Dictionary<string, CacheEntry>();
        var table = new Table().AddColumns("name", "file", "cached", "what");
        foreach (var item in DownloadCatalog.All)
        {
            string state = cached.TryGetValue(item.FileName, out var e) ? $"{e.Size / 1e6:F0} MB" : File.Exists(Path.Combine(dir, item.FileName + FileDownloader.PartialSuffix)) ? "partial" : "";
            table.AddRow(item.Name, item.FileName, state, Markup.Escape(item.Description));
        }
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine($"cache: {Markup.Escape(dir)}");
    }
}
