// Which network a command uses: --preset (released or built in), --model-config + --checkpoint, or the built-in default.
using ConsistencyModels.IO;
using ConsistencyModels.Nn;
using ConsistencyModels.Pipelines;
using ConsistencyModels.Presets;
using Spectre.Console;
using TorchSharp;

namespace ConsistencyModels.Cli.Commands;

internal sealed record ModelSource(string Name, ModelConfig Config, bool BuiltIn, string? Checkpoint, string? CheckpointKey)
{
    public static ModelSource Resolve(string? preset, string? modelConfig, string? checkpoint, string? key)
    {
        if (preset is not null && modelConfig is not null) throw new ArgumentException("use only one of --preset and --model-config");
        if (modelConfig is not null)
        {
            if (checkpoint is null) throw new ArgumentException("--model-config needs --checkpoint FILE");
            return new(Path.GetFileName(modelConfig), ModelConfigJson.Load(modelConfig), false, CheckpointArgument.Resolve(checkpoint, null), key);
        }
        if (preset is null || BuiltInModels.TryGet(preset, out _))
        {
            var p = preset is null ? BuiltInModels.CdFashionMnist32 : BuiltInModels.All.First(b => string.Equals(b.Name, Path.GetFileNameWithoutExtension(preset.Trim()), StringComparison.OrdinalIgnoreCase));
            return new(p.Name, p.Model, checkpoint is null, CheckpointArgument.Resolve(checkpoint, null), key);
        }
        var released = CheckpointPresets.Get(preset);
        return new(released.Name, released.Model, false, CheckpointArgument.Resolve(checkpoint, released.Name), key);
    }

    public ConsistencyPipeline Load(torch.Device device, Precision precision) =>
        LoadPipeline(Name, Config, BuiltIn ? null : Checkpoint, CheckpointKey, device, precision);

    /// <summary>Loads the built-in weights (no checkpoint) or a checkpoint file, with a status line while it reads.</summary>
    public static ConsistencyPipeline LoadPipeline(string name, ModelConfig config, string? checkpoint, string? key, torch.Device device, Precision precision) =>
        AnsiConsole.Status().Start($"loading {Markup.Escape(checkpoint ?? "the built-in weights")}", _ => checkpoint is null
            ? ConsistencyPipeline.LoadBuiltIn(name, device, precision)
            : ConsistencyPipeline.Load(config, checkpoint, device, key, precision));
}
