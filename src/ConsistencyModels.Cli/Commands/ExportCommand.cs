// `cm export onnx`: writes a model's whole denoiser D(x, σ, class) as an ONNX file (library: Export/OnnxExport).
using System.ComponentModel;
using ConsistencyModels.Export;
using ConsistencyModels.Nn;
using ConsistencyModels.Presets;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ConsistencyModels.Cli.Commands;

internal sealed class ExportOnnxCommand : Command<ExportOnnxCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--preset <NAME>"), Description("Released checkpoint name (e.g. cd_imagenet64_lpips) or a built-in model, ect_fmnist32, ict_fmnist32 or cd_fmnist32 (see `cm presets`). Default, with no --recipe/--model-config/--checkpoint: ect_fmnist32.")]
        public string? Preset { get; init; }

        [CommandOption("--model-config <FILE>"), Description("JSON model config with the official flag names (needs --checkpoint).")]
        public string? ModelConfig { get; init; }

        [CommandOption("--recipe <NAME>"), Description("A model-zoo sampling config: its preset, with its sampler, ts and generator written to the metadata.")]
        public string? Recipe { get; init; }

        [CommandOption("--checkpoint <FILE>"), Description("Weights: .pt (as released) or .safetensors, or a name downloaded with `cm download`. Default for a released --preset/--recipe: its file in the download cache.")]
        public string? Checkpoint { get; init; }

        [CommandOption("--checkpoint-key <KEY>"), Description("For .pt files holding several state dicts: the key of the one to export.")]
        public string? CheckpointKey { get; init; }

        [CommandOption("-o|--output <FILE>"), Description("The .onnx file to write (atomically).")]
        public string? Output { get; init; }

        [CommandOption("--opset <N>"), Description("ai.onnx opset of the graph, 13 to 21 (default 17).")]
        public int Opset { get; init; } = 17;

        [CommandOption("--external-data"), Description("Write the weights to FILE.onnx.data beside the graph (ONNX external data). Default: only where one file would pass protobuf's 2 GB limit (the 256 px models).")]
        public bool ExternalData { get; init; }

        [CommandOption("--fp16"), Description("The official fp16 split: torso convolutions and activations in float16; GroupNorm statistics, softmax, embeddings, the out block and the scalings in float32; inputs and output float32. Half the file; for GPU runtimes (CUDA, DirectML, CoreML). ONNX Runtime's CPU provider runs it through casts: keep fp32 there.")]
        public bool Fp16 { get; init; }

        public override ValidationResult Validate()
        {
            int sources = (Preset is null ? 0 : 1) + (ModelConfig is null ? 0 : 1) + (Recipe is null ? 0 : 1);
            if (sources > 1) return ValidationResult.Error("use only one of --preset, --recipe and --model-config");
            if (ModelConfig is not null && Checkpoint is null) return ValidationResult.Error("--model-config needs --checkpoint FILE");
            if (string.IsNullOrWhiteSpace(Output)) return ValidationResult.Error("--output FILE.onnx is required");
            if (!Output.EndsWith(".onnx", StringComparison.OrdinalIgnoreCase)) return ValidationResult.Error($"--output must end in .onnx (got '{Output}')");
            if (Opset is < OnnxExport.MinOpset or > OnnxExport.MaxOpset)
                return ValidationResult.Error($"--opset must be between {OnnxExport.MinOpset} and {OnnxExport.MaxOpset} (got {Opset})");
            return ValidationResult.Success();
        }
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellationToken)
    {
        OutputChecks.File("--output", s.Output);
        var spec = ModelSpec.Resolve(s.Preset, s.ModelConfig, s.Checkpoint, s.CheckpointKey, s.Recipe);
        using var pipeline = ModelLoading.Load(spec, TorchSharp.torch.CPU, Precision.Fp32);
        var options = new OnnxExportOptions
        {
            Opset = s.Opset, ExternalData = s.ExternalData ? true : null, Precision = s.Fp16 ? Precision.Fp16 : Precision.Fp32, Sampling = spec.DefaultSampling(), Generator = spec.DefaultGenerator, ClassNames = spec.ClassNames, Name = spec.Name,
        };
        var files = AnsiConsole.Status().Start($"exporting {Markup.Escape(spec.Name)}", _ => OnnxExport.Save(pipeline.Model, s.Output!, options));
        var c = pipeline.Config;
        AnsiConsole.MarkupLine($"wrote [green]{Markup.Escape(s.Output!)}[/]: {Markup.Escape(spec.Name)}, {(c.Denoiser == DenoiserKind.Edm ? "EDM" : "consistency")} denoiser, " +
                               $"{c.InChannels}x{c.ImageSize}x{c.ImageSize}" + (c.ResolvedNumClasses is int k ? $", {k} classes" : ", unconditional") +
                               $", {pipeline.Model.ParameterCount():N0} parameters, {(s.Fp16 ? "fp16" : "fp32")}, opset {s.Opset}, {files.Sum(f => new FileInfo(f).Length) / 1e6:F1} MB" +
                               (files.Count > 1 ? $" (weights in {Markup.Escape(Path.GetFileName(files[1]))})" : ""));
        var io = "inputs: x float32 [batch, C, H, W], sigma float32 [batch]" + (c.ResolvedNumClasses is null ? "" : ", class_labels int64 [batch]") +
                 "; output: denoised (not clamped); see docs/onnx.md";
        AnsiConsole.MarkupLine($"[grey]{Markup.Escape(io)}[/]");
        return 0;
    }
}
