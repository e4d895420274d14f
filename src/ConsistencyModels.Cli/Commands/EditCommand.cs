// `cm edit TASK`: zero-shot editing (paper §5.3, Algorithm 4) — parse, load inputs, ImageEditor.Edit, write a grid / PNGs.
using System.ComponentModel;
using ConsistencyModels.Editing;
using ConsistencyModels.Nn;
using ConsistencyModels.Presets;
using Spectre.Console;
using Spectre.Console.Cli;
using static TorchSharp.torch;

namespace ConsistencyModels.Cli.Commands;

internal sealed class EditCommand : Command<EditCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandArgument(0, "<TASK>"), Description("inpaint | colorize | superres | stroke | interpolate | denoise")]
        public string Task { get; init; } = "";

        [CommandOption("--preset <NAME>"), Description("A released checkpoint name (with --checkpoint) or a built-in model (ect_fmnist32, the default; ict_fmnist32, cd_fmnist32).")]
        public string? Preset { get; init; }

        [CommandOption("--model-config <FILE>"), Description("JSON model config (official flag names), with --checkpoint.")]
        public string? ModelConfig { get; init; }

        [CommandOption("--checkpoint <FILE>"), Description("Weights (.pt as released, or .safetensors).")]
        public string? Checkpoint { get; init; }

        [CommandOption("--checkpoint-key <KEY>"), Description("For .pt files holding several state dicts: the key of the one to load.")]
        public string? CheckpointKey { get; init; }

        [CommandOption("-i|--input <FILE>"), Description("Reference image (repeatable; png/jpg; centre-cropped and resized to the model size, with a note). stroke: a stroke painting.")]
        public string[] Input { get; init; } = [];

        [CommandOption("--input-dataset <PATH>"), Description("References from a dataset instead: an IDX file (e.g. t10k-images-idx3-ubyte.gz), npz or image folder; with --indices. Its labels become the class labels.")]
        public string? InputDataset { get; init; }

        [CommandOption("--indices <LIST>"), Description("--input-dataset entries, e.g. 0-7 or 3,17,42 (default 0-7).")]
        public string Indices { get; init; } = "0-7";

        [CommandOption("--mask <FILE>"), Description("inpaint: a mask image of the model's size, white = regenerate (default: the centre square of half the side).")]
        public string? Mask { get; init; }

        [CommandOption("--class-labels <LIST>"), Description("Class-conditional models: one label per image (interpolate: per pair) or one for all.")]
        public string? ClassLabels { get; init; }

        [CommandOption("--ts <LIST>"), Description("Grid indices of the noise levels, ascending, ending at steps-1. Default: every index (0-39) for inpaint/colorize/superres; 16,20,39 for stroke (σ = 5.38, 2.24: the paper's).")]
        public string? Ts { get; init; }

        [CommandOption("--sigmas <LIST>"), Description("Noise levels of the evaluations instead of --ts, strictly descending, e.g. 80,0.821 (the last step ends at sigma_min).")]
        public string? Sigmas { get; init; }

        [CommandOption("--steps <N>"), Description("Size of the Karras grid the --ts index (default 40).")]
        public int Steps { get; init; } = 40;

        [CommandOption("--patch-size <N>"), Description("superres: side of the patches averaged into one low-res pixel (default 8 from 64 px up, else 4).")]
        public int? PatchSize { get; init; }

        [CommandOption("--sigma <X>"), Description("denoise: the noise level (default 0.2964, the official notebook's).")]
        public double? Sigma { get; init; }

        [CommandOption("--noisy-input"), Description("denoise: the inputs are noisy already (default: σ-noise is added to them first, to show the round trip).")]
        public bool NoisyInput { get; init; }

        [CommandOption("--frames <N>"), Description("interpolate: images per pair of latents (default 8).")]
        public int Frames { get; init; } = 8;

        [CommandOption("--pairs <N>"), Description("interpolate: number of latent pairs, one grid row each (default 4).")]
        public int Pairs { get; init; } = 4;

        [CommandOption("--seed <N>"), Description("Random seed (default 42).")]
        public long Seed { get; init; } = 42;

        [CommandOption("--generator <NAME>"), Description("determ (default) | determ-indiv | dummy, as for generate.")]
        public string Generator { get; init; } = "determ";

        [CommandOption("--device <DEVICE>"), Description("cpu (default), cuda or cuda:N.")]
        public string Device { get; init; } = "cpu";

        [CommandOption("--threads <N>"), Description("CPU threads for libtorch.")]
        public int? Threads { get; init; }

        [CommandOption("-o|--output <FILE>"), Description("Grid (.png/.jpg): per row reference, degraded input, result (interpolate: the frames). Default edit.png.")]
        public string Output { get; init; } = "edit.png";

        [CommandOption("--zoom <N>"), Description("Enlarge the grid N times (nearest neighbour), e.g. 4 for 32 px models (default 1).")]
        public int Zoom { get; init; } = 1;

        [CommandOption("--output-dir <DIR>"), Description("Also write each result as a PNG (000000.png, ...).")]
        public string? OutputDir { get; init; }

        public override ValidationResult Validate()
        {
            if (Input.Length > 0 && InputDataset is not null) return ValidationResult.Error("use --input files or --input-dataset, not both");
            if (Zoom is < 1 or > 16) return ValidationResult.Error($"--zoom must be 1 to 16 (got {Zoom})");
            if (Frames < 2) return ValidationResult.Error($"--frames must be at least 2 (got {Frames})");
            if (Pairs < 1) return ValidationResult.Error($"--pairs must be at least 1 (got {Pairs})");
            if (Sigma is <= 0) return ValidationResult.Error($"--sigma must be positive (got {Sigma})");
            if (Path.GetExtension(Output).ToLowerInvariant() is not (".png" or ".jpg" or ".jpeg")) return ValidationResult.Error($"--output must end in .png, .jpg or .jpeg (got '{Output}')");
            return ValidationResult.Success();
        }
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellationToken)
    {
        OutputChecks.File("--output", s.Output);
        OutputChecks.Directory("--output-dir", s.OutputDir);
        var task = Parse.EditTask(s.Task);
        var source = ModelSpec.Resolve(s.Preset, s.ModelConfig, s.Checkpoint, s.CheckpointKey);
        var config = source.Config;
        task.CheckModel(config, source.Name);
        if (s.Threads is int threads) set_num_threads(threads);
        if (config.Denoiser == DenoiserKind.Edm)
            AnsiConsole.MarkupLine("[yellow]warning:[/] an EDM model is not a consistency function: one evaluation per noise level gives poor edits");

        using var scope = NewDisposeScope();
        EditImages? inputs = null;
        if (task.TakesImages)
        {
            inputs = s.InputDataset is not null
                ? EditInputs.FromDataset(s.InputDataset, Parse.IntList(s.Indices, "--indices"), config.ImageSize, config.InChannels, config.ClassCond, InputLimits.FromEnvironment())
                : s.Input.Length > 0 ? EditInputs.FromFiles(s.Input, config.ImageSize, config.InChannels, InputLimits.FromEnvironment())
                : throw new ArgumentException($"{s.Task} needs reference images: --input FILE (repeatable) or --input-dataset PATH --indices 0-7");
            foreach (var note in inputs.Notes) AnsiConsole.MarkupLine($"[grey]{Markup.Escape(note)}[/]");
        }
        else if (s.Input.Length > 0 || s.InputDataset is not null)
            throw new ArgumentException("interpolate starts from random latents: it takes no --input");
        if (s.Mask is not null && !task.TakesMask) throw new ArgumentException("--mask applies to inpaint only");

        var request = new EditRequest
        {
            Task = task, Images = inputs?.Images,
            KnownMask = s.Mask is null ? null : EditInputs.MaskFromFile(s.Mask, config.ImageSize, InputLimits.FromEnvironment()),
            ClassLabels = s.ClassLabels is not null ? Parse.IntList(s.ClassLabels, "--class-labels") : inputs?.Labels,
            Ts = s.Ts is null ? null : Parse.IntList(s.Ts, "--ts"), Steps = s.Steps,
            Sigmas = s.Sigmas is null ? null : Parse.DoubleList(s.Sigmas, "--sigmas"), PatchSize = s.PatchSize, Sigma = s.Sigma,
            AddNoise = !s.NoisyInput, Frames = s.Frames, Pairs = s.Pairs, Seed = s.Seed, Generator = Parse.Generator(s.Generator),
        };
        if (task == EditTask.Interpolate && request.ClassLabels is null && config.ClassCond)
            request = request with { ClassLabels = Enumerable.Range(0, s.Pairs).Select(i => i % config.ResolvedNumClasses!.Value).ToList() };

        using var pipeline = ModelLoading.Load(source, DeviceOption.Parse(s.Device), Nn.Precision.Fp32);
        AnsiConsole.MarkupLine($"[grey]model:[/] {Markup.Escape(source.Name)}  [grey]task:[/] {task.Name}" +
                               (task is EditTask.Interpolate or EditTask.Denoise ? ""
                                : request.Sigmas is { } sg ? $"  [grey]sigmas:[/] {string.Join(",", sg.Select(v => v.ToString("G", System.Globalization.CultureInfo.InvariantCulture)))} ({request.Evaluations} evaluations)"
                                : $"  [grey]ts:[/] {Compact(request.ResolvedTs)} of a {request.Steps}-point grid ({request.Evaluations} evaluations)"));
        EditResult result = null!;
        AnsiConsole.Progress().AutoClear(false).Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
            .Start(ctx =>
            {
                var bar = ctx.AddTask("network evaluations", maxValue: request.Evaluations);
                result = ImageEditor.Edit(pipeline, request, step => bar.Value = step.Evaluation);
                bar.Value = bar.MaxValue;
            });
        Write(s, result);
        return 0;
    }

    private static string Compact(IReadOnlyList<int> ts) =>
        ts.Count > 4 && ts.Zip(ts.Skip(1)).All(p => p.Second == p.First + 1) ? $"{ts[0]}-{ts[^1]}" : string.Join(",", ts);

    private static void Write(Settings s, EditResult r)
    {
        r.Grid().Zoom(s.Zoom).SaveGrid(s.Output, r.Columns);
        AnsiConsole.MarkupLine($"wrote [green]{Markup.Escape(s.Output)}[/]" + (r.Reference is null ? " (one row per pair of latents)" : " (per row: reference, input, result)"));
        if (s.OutputDir is null) return;
        r.Edited.SavePngs(s.OutputDir);
        AnsiConsole.MarkupLine($"wrote {r.Edited.Count} PNG files to [green]{Markup.Escape(s.OutputDir)}[/]");
    }
}
