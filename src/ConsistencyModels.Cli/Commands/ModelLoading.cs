// Loads the model a command resolved (ModelSpec), with a status line while the weights are read.
using ConsistencyModels.Nn;
using ConsistencyModels.Pipelines;
using ConsistencyModels.Presets;
using Spectre.Console;
using TorchSharp;

namespace ConsistencyModels.Cli.Commands;

internal static class ModelLoading
{
    public static ConsistencyPipeline Load(ModelSpec spec, torch.Device device, Precision precision) =>
        AnsiConsole.Status().Start($"loading {Markup.Escape(spec.Weights ?? "the built-in weights")}", _ => ConsistencyPipeline.Load(spec, device, precision, limits: InputLimits.FromEnvironment()));
}
