// Loads the model a command resolved (ModelSpec), with a status line while the weights are read.
using ConsistencyModels.Nn;
using ConsistencyModels.Pipelines;
using ConsistencyModels.Presets;
using ConsistencyModels.Runtime;
using Spectre.Console;
using TorchSharp;

namespace ConsistencyModels.Cli.Commands;

internal static class ModelLoading
{
    /// <summary>
    /// The pipeline, and from then on a C heap that keeps freed blocks (<see cref="NativeHeap.RetainFreedMemory"/>):
    /// every batch allocates the same activations, which glibc would otherwise map and fault in afresh (2,048 fmnist32
    /// one-step samples: 1.07 M page faults and 21.1 s, against 0.14 M and 14.5 s; docs/performance.md). Only after the
    /// load, whose freed state-dict tensors must go back to the system (kept, the load's peak rose from 1.20x to 1.60x the
    /// weights of an ImageNet-64 model).
    /// </summary>
    public static ConsistencyPipeline Load(ModelSpec spec, torch.Device device, Precision precision)
    {
        var pipeline = AnsiConsole.Status().Start($"loading {Markup.Escape(spec.Weights ?? "the built-in weights")}",
            _ => ConsistencyPipeline.Load(spec, device, precision, limits: InputLimits.FromEnvironment()));
        NativeHeap.RetainFreedMemory();
        return pipeline;
    }
}
