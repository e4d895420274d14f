// `cm generate`: parse options -> GenerationRequest -> ConsistencyPipeline.Generate -> grid / PNGs / npz.
// With no model options it samples the built-in Fashion-MNIST model, one grid row per class.
using System.ComponentModel;
using ConsistencyModels.IO;
using ConsistencyModels.Nn;
using ConsistencyModels.Pipelines;
using ConsistencyModels.Presets;
using ConsistencyModels.Runtime;
using ConsistencyModels.Sampling;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ConsistencyModels.Cli.Commands;

internal sealed class GenerateCommand : Command<GenerateCommand.Settings>
{
    public sealed class Settings : SamplingSettings
    {
        [CommandOption("-o|--output <FILE>"), Description("Image grid, .png or .jpg (default samples.png when no other output is given).")]
        public string? Output { get; init; }

        [CommandOption("--grid-columns <N>"), Description("Images per grid row (default: ceil(sqrt(n)), a square grid; with --class-labels rows the row length, 8 by default).")]
        public int? GridColumns { get; init; }

        [CommandOption("--output-dir <DIR>"), Description("Write one PNG per sample (000000.png, ...).")]
        public string? OutputDir { get; init; }

        [CommandOption("--npz <FILE>"), Description("Write samples in the official layout: arr_0 uint8 NHWC, arr_1 int64 labels.")]
        public string? Npz { get; init; }

        public override ValidationResult Validate()
        {
            var shared = base.Validate();
            if (!shared.Successful) return shared;
            if (GridColumns is < 1) return ValidationResult.Error($"--grid-columns must be at least 1 (got {GridColumns})");
            if (Output is not null && Path.GetExtension(Output).ToLowerInvariant() is not (".png" or ".jpg" or ".jpeg"))
                return ValidationResult.Error($"--output must end in .png, .jpg or .jpeg (got '{Output}')");
            if (OutputDir is not null && File.Exists(OutputDir)) return ValidationResult.Error($"--output-dir '{OutputDir}' is an existing file");
            if (Npz is not null && !Npz.EndsWith(".npz", StringComparison.OrdinalIgnoreCase)) return ValidationResult.Error($"--npz must end in .npz (got '{Npz}')");
            return ValidationResult.Success();
        }
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellationToken)
    {
        OutputChecks.File("--output", s.Output ?? (s.OutputDir is null && s.Npz is null ? "samples.png" : null));
        OutputChecks.Directory("--output-dir", s.OutputDir);
        OutputChecks.File("--npz", s.Npz);
        // --onnx: the exported file is the model, ONNX Runtime runs it (OnnxBackend); otherwise libtorch.
        using var onnx = s.Onnx is null ? null : OnnxBackend.Open(s);
        var plan = onnx is null ? GenerationPlan.From(s, s.GridColumns) : GenerationPlan.From(s, onnx.Spec, s.GridColumns); // validates before the (slow) load
        if (onnx is not null) OnnxBackend.Convert(plan.Request);            // refuses a sampler ONNX Runtime lacks, by its flag
        var device = onnx is null ? DeviceOption.Parse(s.Device) : TorchSharp.torch.CPU;
        var precision = Parse.Precision(s.Precision);
        if (onnx is not null) AnsiConsole.MarkupLine($"[grey]runtime:[/] ONNX Runtime, {onnx.Provider} execution provider");
        else if (device.type == TorchSharp.DeviceType.CPU) AnsiConsole.MarkupLine($"[grey]precision:[/] {Markup.Escape(CpuFeatures.Describe(precision))}");
        if (s.Threads is int threads && onnx is null) TorchSharp.torch.set_num_threads(threads);

        AnsiConsole.MarkupLine($"[grey]model:[/] {Markup.Escape(plan.ModelName)} ({plan.Config.Denoiser.ToString().ToLowerInvariant()}, {plan.Config.ImageSize}px)  " +
                               $"[grey]sampler:[/] {Markup.Escape(plan.Describe())}  [grey]generator:[/] {Parse.Name(plan.Request.Generator)} seed {plan.Request.Seed}");
        using var pipeline = onnx is null ? ModelLoading.Load(plan.Model, device, precision) : null;
        Func<GenerationRequest, IProgress<GenerationProgress>, CancellationToken, IEnumerable<GenerationBatch>> generate =
            onnx is null ? pipeline!.GenerateBatches : onnx.GenerateBatches;
        if (plan.ClassRows) AnsiConsole.MarkupLine($"[grey]rows:[/] classes 0-{plan.Config.ResolvedNumClasses - 1}" +
                                                   (plan.ModelName == BuiltInModels.DefaultName ? $" ({Markup.Escape(string.Join(", ", BuiltInModels.FashionMnistClasses))})" : ""));

        // Under mpirun each rank makes a contiguous share of the samples; rank 0 gathers them and writes the outputs.
        // Per-sample noise (determ, determ-indiv) makes the result equal to one process's.
        var world = Cluster.World;
        var request = ShardedSampling.ForRank(plan.Request, world);
        var sink = world.IsRoot ? new Outputs(s, plan.Request.NumSamples, plan.Config, plan.GridColumns) : null;
        var mine = new List<GenerationBatch>();
        AnsiConsole.Progress().AutoClear(false).HideCompleted(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var samples = ctx.AddTask(world.Size > 1 ? $"samples (rank 0 of {world.Size})" : "samples", maxValue: request.ResolvedEndSample);
                var evals = ctx.AddTask("network evaluations (batch)", maxValue: plan.Request.Sampling.Evaluations);
                var progress = new SyncProgress<GenerationProgress>(p =>
                {
                    samples.Value = p.SamplesDone;
                    evals.Description = $"batch {p.Batch}/{p.Batches}: evaluations";
                    evals.Value = p.Evaluation;
                });
                foreach (var batch in generate(request, progress, cancellationToken))
                    if (world.Size == 1) sink!.Add(batch); else mine.Add(batch);
            });
        if (world.Size > 1)
            foreach (var batch in ShardedSampling.GatherOnRoot(world, mine, plan.Config)) sink!.Add(batch);
        sink?.Finish();
        return 0;
    }
}
