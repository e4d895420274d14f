// `cm presets`: the released checkpoints and zoo recipes with their sampling settings.
using ConsistencyModels.Presets;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ConsistencyModels.Cli.Commands;

internal sealed class PresetsCommand : Command
{
    public override int Execute(CommandContext context, CancellationToken cancellationToken)
    {
        var t = new Table().AddColumns("preset", "denoiser", "size", "default sampler", "steps", "two-step ts", "generator", "description");
        foreach (var p in CheckpointPresets.All)
            t.AddRow(p.Name, p.Model.Denoiser.ToString().ToLowerInvariant(), $"{p.Model.ImageSize}", p.DefaultSampler.ToString().ToLowerInvariant(),
                     $"{p.Steps}", p.TwoStepTs is null ? "-" : string.Join(",", p.TwoStepTs), p.DefaultGenerator.ToString(), Markup.Escape(p.Description));
        AnsiConsole.Write(t);
        AnsiConsole.MarkupLine("[grey]cd_cat256_* two-step ts: no official value exists; the LSUN Bedroom CD value for the same loss is used.[/]");
        var r = new Table().AddColumns("recipe (--recipe)", "checkpoint", "sampler", "ts", "steps", "generator", "batch", "seed");
        foreach (var x in CheckpointPresets.Recipes)
            r.AddRow(x.Name, x.Preset, x.Sampler.ToString().ToLowerInvariant(), x.Ts is null ? "-" : string.Join(",", x.Ts), $"{x.Steps}", x.Generator.ToString(), $"{x.BatchSize}", $"{x.Seed}");
        AnsiConsole.Write(r);
        return 0;
    }
}
