// `cm convert`: a checkpoint (.pt as released or written by `cm train`, or .safetensors) to safetensors or .pt, optionally fp16/bf16.
using ConsistencyModels.Presets;
using System.ComponentModel;
using ConsistencyModels.IO;
using ConsistencyModels.IO.Checkpoints;
using ConsistencyModels.IO.Downloads;
using Spectre.Console;
using Spectre.Console.Cli;
using static TorchSharp.torch;

namespace ConsistencyModels.Cli.Commands;

internal sealed class ConvertCommand : Command<ConvertCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandArgument(0, "<INPUT>"), Description("A .pt state dict (e.g. ema_0.999_001500.pt) or a .safetensors file.")]
        public string Input { get; init; } = "";

        [CommandArgument(1, "<OUTPUT>"), Description("The file to write (atomically): .safetensors, or .pt (a PyTorch state dict that torch.load reads).")]
        public string Output { get; init; } = "";

        [CommandOption("--checkpoint-key <KEY>"), Description("For .pt files holding several state dicts: the key of the one to convert.")]
        public string? CheckpointKey { get; init; }

        [CommandOption("--dtype <T>"), Description("fp32 | fp16 | bf16 for the floating-point tensors (default: keep each tensor's type). fp16 halves the file; the loader computes in fp32 again.")]
        public string? Dtype { get; init; }

        [CommandOption("--metadata <KEY=VALUE>"), Description("A string stored in the header's __metadata__ (repeatable), e.g. --metadata source=runs/cd.")]
        public string[] Metadata { get; init; } = [];

        public override ValidationResult Validate()
        {
            if (Path.GetExtension(Output).ToLowerInvariant() is not (".safetensors" or ".pt" or ".pth"))
                return ValidationResult.Error($"OUTPUT must end in .safetensors, .pt or .pth (got '{Output}')");
            if (Dtype is not null && Dtype.ToLowerInvariant() is not ("fp32" or "fp16" or "bf16")) return ValidationResult.Error($"--dtype must be fp32, fp16 or bf16 (got '{Dtype}')");
            var bad = Metadata.FirstOrDefault(m => m.IndexOf('=') < 1);
            return bad is null ? ValidationResult.Success() : ValidationResult.Error($"--metadata must be KEY=VALUE (got '{bad}')");
        }
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellationToken)
    {
        OutputChecks.File("OUTPUT", s.Output);
        string input = ModelCache.ResolveFile(s.Input);
        var state = s.CheckpointKey is null ? CheckpointFile.LoadStateDict(input, InputLimits.FromEnvironment()) : TorchCheckpoint.LoadStateDict(input, s.CheckpointKey, InputLimits.FromEnvironment());
        ScalarType? target = s.Dtype?.ToLowerInvariant() switch
        {
            "fp32" => ScalarType.Float32, "fp16" => ScalarType.Float16, "bf16" => ScalarType.BFloat16, _ => null,
        };
        using var scope = NewDisposeScope();
        var tensors = state.Select(kv => KeyValuePair.Create(kv.Key,
            target is ScalarType t && kv.Value.is_floating_point() ? kv.Value.to(t) : kv.Value)).ToList();
        var metadata = s.Metadata.Select(m => m.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
        if (s.Output.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase)) Safetensors.Save(s.Output, tensors, metadata);
        else if (metadata.Count > 0) throw new ArgumentException("--metadata needs a .safetensors OUTPUT (a .pt state dict has no place for it)");
        else TorchCheckpoint.Save(s.Output, tensors);
        long bytes = new FileInfo(s.Output).Length;
        var dtypes = string.Join(", ", tensors.GroupBy(kv => kv.Value.dtype).Select(g => $"{g.Key} x{g.Count()}"));
        AnsiConsole.MarkupLine($"wrote [green]{Markup.Escape(s.Output)}[/]: {tensors.Count} tensors ({Markup.Escape(dtypes)}), " +
                               $"{tensors.Sum(kv => kv.Value.numel()):N0} parameters, {bytes / 1e6:F1} MB");
        AnsiConsole.WriteLine(ArchitectureGuess.Describe(state));
        foreach (var t in state.Values) t.Dispose();
        return 0;
    }
}
