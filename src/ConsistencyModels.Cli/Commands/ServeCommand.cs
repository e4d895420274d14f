// `cm serve`: the local web studio (generate and edit in the browser), bound to loopback unless told otherwise.
using System.ComponentModel;
using ConsistencyModels.Cli.Studio;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Hosting;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ConsistencyModels.Cli.Commands;

internal sealed class ServeCommand : AsyncCommand<ServeCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--port <N>"), Description("Port (default 7860).")]
        public int Port { get; init; } = 7860;

        [CommandOption("--host <ADDRESS>"), Description("Address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 exposes the studio to the network).")]
        public string Host { get; init; } = "127.0.0.1";

        [CommandOption("--checkpoint <FILE>"), Description("Extra models (repeatable): released files by name, training checkpoints (config.json beside them), or weights of the built-in architecture.")]
        public string[] Checkpoints { get; init; } = [];

        [CommandOption("--queue <N>"), Description("Jobs that may wait (default 8); more get HTTP 429. Jobs run one at a time, each on all cores.")]
        public int Queue { get; init; } = 8;

        [CommandOption("--threads <N>"), Description("CPU threads for libtorch.")]
        public int? Threads { get; init; }

        [CommandOption("--max-steps <N>"), Description("Most sampler steps (and sigmas) one job may ask for (default 1000); more get HTTP 400.")]
        public int MaxSteps { get; init; } = new StudioLimits().MaxSteps;

        [CommandOption("--max-count <N>"), Description("Most images one generate job may ask for (default 64); more get HTTP 400.")]
        public int MaxCount { get; init; } = new StudioLimits().MaxCount;

        // Kestrel reads any other host name (e.g. a typo) as "every interface": only addresses and localhost are taken.
        public override ValidationResult Validate() =>
            Port is < 0 or > 65535 ? ValidationResult.Error($"--port {Port} is not a port")
            : Queue < 1 ? ValidationResult.Error("--queue must be at least 1")
            : MaxSteps < 1 ? ValidationResult.Error("--max-steps must be at least 1")
            : MaxCount < 1 ? ValidationResult.Error("--max-count must be at least 1")
            : !IsAddressOrLocalhost(Host) ? ValidationResult.Error($"--host must be an IP address or localhost (got '{Host}'); 0.0.0.0 or :: listen on every interface")
            : ValidationResult.Success();

        public static bool IsAddressOrLocalhost(string host) =>
            string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase) || System.Net.IPAddress.TryParse(host.Trim('[', ']'), out _);

        /// <summary>Whether <paramref name="host"/> reaches beyond this machine.</summary>
        public static bool IsBeyondLoopback(string host) =>
            !string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase)
            && System.Net.IPAddress.TryParse(host.Trim('[', ']'), out var ip) && !System.Net.IPAddress.IsLoopback(ip);
    }

    public override async Task<int> ExecuteAsync(CommandContext context, Settings s, CancellationToken cancellationToken)
    {
        if (s.Threads is int t) TorchSharp.torch.set_num_threads(t);
        using var models = new StudioModels(s.Checkpoints);
        using var jobs = new StudioJobs(s.Queue);
        await using var app = StudioServer.Build(s.Host, s.Port, models, jobs, new StudioLimits(s.MaxSteps, s.MaxCount));
        await app.StartAsync(cancellationToken);
        // Load the built-in model now, so that the first click is as quick as the next ones.
        _ = Task.Run(() => models.Pipeline(models.Get(Presets.BuiltInModels.DefaultName)), cancellationToken);
        if (Settings.IsBeyondLoopback(s.Host))
            AnsiConsole.MarkupLine($"[yellow]warning:[/] listening on {Markup.Escape(s.Host)}: other machines on the network can use this studio and start jobs");
        AnsiConsole.MarkupLine($"studio: [link]{Markup.Escape(app.Urls.First())}[/]  ({models.All.Count} model(s): {Markup.Escape(string.Join(", ", models.All.Select(m => m.Name)))}); Ctrl-C stops");
        var stopped = new TaskCompletionSource();
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; stopped.TrySetResult(); };
        using var registration = cancellationToken.Register(() => stopped.TrySetResult());
        await Task.WhenAny(stopped.Task, app.WaitForShutdownAsync(cancellationToken));
        await app.StopAsync(CancellationToken.None);
        return 0;
    }
}
