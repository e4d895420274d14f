// `cm presets`: the released checkpoints and zoo recipes with their sampling settings.
using ConsistencyModels.Presets;
using Spectre.Console.Cli;

namespace ConsistencyModels.Cli.Commands;

internal sealed class PresetsCommand : Command
{
    public override int Execute(CommandContext context, CancellationToken cancellationToken)
    {
        Console.WriteLine("Released checkpoints (--preset NAME; file: https://openaipublic.blob.core.windows.net/consistency/NAME.pt)");
        Console.WriteLine($"  {"preset",-22}{"denoiser",-13}{"size",-6}{"sampler",-9}{"steps",-7}{"two-step ts",-13}{"generator",-13}");
        foreach (var p in CheckpointPresets.All)
        {
            Console.WriteLine($"  {p.Name,-22}{p.Model.Denoiser.ToString().ToLowerInvariant(),-13}{p.Model.ImageSize,-6}{p.DefaultSampler.ToString().ToLowerInvariant(),-9}" +
                              $"{p.Steps,-7}{(p.TwoStepTs is null ? "-" : string.Join(",", p.TwoStepTs)),-13}{Cli.Parse.Name(p.DefaultGenerator),-13}");
            Console.WriteLine($"      {p.Description}; ts: {p.TsNote}");
        }
        Console.WriteLine();
        Console.WriteLine("Built in (no --checkpoint needed; `cm generate` with no model options uses the first)");
        foreach (var p in BuiltInModels.All)
        {
            Console.WriteLine($"  {p.Name,-22}{p.Model.Denoiser.ToString().ToLowerInvariant(),-13}{p.Model.ImageSize,-6}{p.DefaultSampler.ToString().ToLowerInvariant(),-9}" +
                              $"{p.Steps,-7}{(p.TwoStepTs is null ? "-" : string.Join(",", p.TwoStepTs)),-13}{Cli.Parse.Name(p.DefaultGenerator),-13}");
            Console.WriteLine($"      {p.Description}; ts: {p.TsNote}");
        }
        Console.WriteLine();
        Console.WriteLine("Model-zoo sampling recipes (--recipe NAME): batch 4, seed 42, as the zoo's config files");
        foreach (var r in CheckpointPresets.Recipes)
            Console.WriteLine($"  {r.Name}\n      checkpoint {r.Preset}, {r.Sampler.ToString().ToLowerInvariant()}" +
                              $"{(r.Ts is null ? "" : $" ts={string.Join(",", r.Ts)}")}, steps {r.Steps}, generator {Cli.Parse.Name(r.Generator)}");
        return 0;
    }
}
