// `cm inspect`: what a checkpoint file is, which released preset (or built-in model) it fits, and why.
using System.ComponentModel;
using ConsistencyModels.IO;
using ConsistencyModels.IO.Checkpoints;
using ConsistencyModels.IO.Downloads;
using ConsistencyModels.Presets;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ConsistencyModels.Cli.Commands;

internal sealed class InspectCommand : Command<InspectCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandArgument(0, "<FILE>"), Description("A .pt or .safetensors checkpoint, or a downloaded name (cd_imagenet64_lpips).")]
        public string File { get; init; } = "";

        [CommandOption("--checkpoint-key <KEY>"), Description("For .pt files holding several state dicts: the key of the one to inspect.")]
        public string? CheckpointKey { get; init; }

        [CommandOption("--keys"), Description("Also list every key with its dtype and shape.")]
        public bool Keys { get; init; }
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellationToken)
    {
        string path = ModelCache.ResolveFile(s.File);
        var kind = CheckpointSniffer.Sniff(path, out var problem);
        if (kind == CheckpointKind.Other) throw new InvalidDataException(problem);
        var state = s.CheckpointKey is null ? CheckpointFile.LoadStateDict(path, InputLimits.FromEnvironment()) : TorchCheckpoint.LoadStateDict(path, s.CheckpointKey, InputLimits.FromEnvironment());
        try
        {
            long bytes = new FileInfo(path).Length;
            AnsiConsole.MarkupLine($"[bold]{Markup.Escape(path)}[/]: {(kind == CheckpointKind.Safetensors ? "safetensors" : "PyTorch zip")}, {bytes / 1e6:F1} MB");
            var dtypes = state.Values.GroupBy(t => t.dtype).Select(g => $"{g.Key} x{g.Count()}");
            AnsiConsole.MarkupLine($"dtypes: {Markup.Escape(string.Join(", ", dtypes))}");
            AnsiConsole.WriteLine(ArchitectureGuess.Describe(state));

            foreach (var p in ArchitectureGuess.MatchingBuiltIns(state)) AnsiConsole.MarkupLine($"It has the architecture of the built-in model [green]{p.Name}[/]: use --preset {p.Name} --checkpoint FILE.");
            // The file name often says which release it is: confirm or contradict it.
            var named = CheckpointPresets.All.FirstOrDefault(p => Path.GetFileNameWithoutExtension(path).Equals(p.Name, StringComparison.OrdinalIgnoreCase));
            if (named is not null)
            {
                bool fits = ArchitectureGuess.MatchingPresets(state).Contains(named);
                AnsiConsole.MarkupLine(fits
                    ? $"Its name and weights agree: [green]{named.Name}[/] ({Markup.Escape(named.Description)}); sample with --preset {named.Name}."
                    : $"[yellow]Its name says {named.Name}, but its keys/shapes do not fit that architecture.[/]");
            }
            if (s.Keys)
            {
                var table = new Table().AddColumns("key", "dtype", "shape");
                foreach (var (key, t) in state) table.AddRow(Markup.Escape(key), t.dtype.ToString(), Markup.Escape($"[{string.Join(", ", t.shape)}]"));
                AnsiConsole.Write(table);
            }
            return 0;
        }
        finally { foreach (var t in state.Values) t.Dispose(); }
    }
}
