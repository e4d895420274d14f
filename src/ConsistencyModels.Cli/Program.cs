// `cm`: the command-line face of the ConsistencyModels library. One file per command under Commands/.
using ConsistencyModels.Cli;
using ConsistencyModels.Cli.Commands;
using Spectre.Console.Cli;

// CM_LIBTORCH=DIR: run on that libtorch (e.g. an installed PyTorch's torch/lib, for CUDA) instead of the bundled one.
if (ConsistencyModels.Runtime.LibTorchLocator.RequestedDirectory is string libtorch)
{
    try { ConsistencyModels.Runtime.LibTorchLocator.Preload(libtorch); }
    catch (Exception e) when (e is IOException or DllNotFoundException)
    {
        Console.Error.WriteLine("error: " + OptionNames.ForCli(e.Message));
        return 2;
    }
}

// Under mpirun only rank 0 talks; the others stay silent except for errors (stderr).
if (ConsistencyModels.Distributed.MpiCommunicator.LauncherRank() is > 0)
    Spectre.Console.AnsiConsole.Console = Spectre.Console.AnsiConsole.Create(new Spectre.Console.AnsiConsoleSettings
        { Out = new Spectre.Console.AnsiConsoleOutput(TextWriter.Null) });

// Redirected output (logs, CI) would be wrapped at 80 columns: keep messages on one line there.
if (Console.IsOutputRedirected) Spectre.Console.AnsiConsole.Profile.Width = 240;

var app = new CommandApp();
app.Configure(config =>
{
    config.SetApplicationName("cm");
    config.AddCommand<GenerateCommand>("generate")
        .WithDescription("Generate images with a consistency model or an EDM teacher (one-step, multistep, Heun, ...). With no model options: the built-in Fashion-MNIST model, one row per class.")
        .WithExample("generate")
        .WithExample("generate", "--sampler", "multistep", "--ts", "0,22,39", "--output", "two_step.png")
        .WithExample("generate", "--preset", "cd_imagenet64_lpips", "--checkpoint", "cd_imagenet64_lpips.pt", "--class-labels", "1,2,3,4", "--output", "grid.png")
        .WithExample("generate", "--preset", "cd_imagenet64_lpips", "--checkpoint", "cd_imagenet64_lpips.pt", "--sampler", "multistep", "--ts", "0,22,39", "--steps", "40")
        .WithExample("generate", "--preset", "edm_imagenet64_ema", "--checkpoint", "edm_imagenet64_ema.pt", "--sampler", "heun", "--steps", "40", "--npz", "samples.npz")
        .WithExample("generate", "--recipe", "consistency_models_8xb256-imagenet1k-onestep-64x64", "--checkpoint", "cd_imagenet64_l2.pt", "--output", "demo.jpg")
        .WithExample("generate", "--model-config", "my_model.json", "--checkpoint", "ema_0.9999_100000.pt", "--num-samples", "64", "--output-dir", "samples/");
    config.AddCommand<SampleCommand>("sample")
        .WithDescription("Generate many samples (e.g. 50,000 for FID) into npz shards for `cm evaluate`; rerunning resumes, skipping finished shards.")
        .WithExample("sample", "--num-samples", "10000", "--output-dir", "samples/cd1")
        .WithExample("sample", "--num-samples", "10000", "--sampler", "multistep", "--ts", "0,22,39", "--output-dir", "samples/cd2")
        .WithExample("sample", "--preset", "cd_imagenet64_lpips", "--checkpoint", "cd_imagenet64_lpips.pt", "--num-samples", "50000", "--batch-size", "256", "--device", "cuda", "--output-dir", "samples/im64");
    config.AddCommand<EditCommand>("edit")
        .WithDescription("Zero-shot editing with a consistency model: inpaint, colorize, superres, stroke, interpolate, denoise (paper §5.3).")
        .WithExample("edit", "inpaint", "--input-dataset", "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", "--indices", "0-7", "--output", "inpaint.png")
        .WithExample("edit", "superres", "--input-dataset", "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", "--patch-size", "4")
        .WithExample("edit", "colorize", "--preset", "cd_imagenet64_lpips", "--checkpoint", "cd_imagenet64_lpips.pt", "--input", "photo.jpg", "--class-labels", "207")
        .WithExample("edit", "inpaint", "--preset", "cd_bedroom256_lpips", "--checkpoint", "cd_bedroom256_lpips.pt", "--input", "room.jpg", "--mask", "mask.png")
        .WithExample("edit", "interpolate", "--pairs", "4", "--frames", "8");
    config.AddCommand<TrainCommand>("train")
        .WithDescription("Train an EDM teacher (edm), distil a consistency model from it (cd), tune one from it (ect), or train one from scratch (ct).")
        .WithExample("train", "edm", "--preset", "fmnist32", "--data", "/usr/share/datasets/fashion-mnist", "--output", "runs/edm", "--total-training-steps", "20000")
        .WithExample("train", "cd", "--preset", "fmnist32", "--data", "/usr/share/datasets/fashion-mnist", "--teacher", "runs/edm/ema_0.999_020000.pt", "--output", "runs/cd")
        .WithExample("train", "ect", "--preset", "fmnist32", "--data", "/usr/share/datasets/fashion-mnist", "--teacher", "runs/edm/ema_0.999_020000.pt", "--output", "runs/ect", "--total-training-steps", "2000")
        .WithExample("train", "ct", "--preset", "fmnist32", "--data", "/usr/share/datasets/fashion-mnist", "--output", "runs/ct", "--recipe", "ict")
        .WithExample("train", "cd", "--preset", "fmnist32", "--data", "/usr/share/datasets/fashion-mnist", "--teacher", "t.pt", "--output", "runs/cd", "--resume");
    config.AddCommand<TrainClassifierCommand>("train-classifier")
        .WithDescription("Train the small Fashion-MNIST classifier whose features score the built-in model (FID-FMNIST).")
        .WithExample("train-classifier", "--data", "/usr/share/datasets/fashion-mnist", "--output", "fmnist_classifier.safetensors");
    config.AddCommand<EvaluateCommand>("evaluate")
        .WithDescription("Score samples: FID, Inception Score, precision/recall (k=3) and KID against a reference batch or dataset, as the official evaluator.")
        .WithExample("evaluate", "--samples", "samples.npz")
        .WithExample("evaluate", "--samples", "samples/", "--reference", "VIRTUAL_imagenet64_labeled.npz", "--inception", "inception-2015-12-05.pt")
        .WithExample("evaluate", "--samples", "samples.npz", "--reference", "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz", "--json");
    config.AddCommand<DownloadCommand>("download")
        .WithDescription("Download released checkpoints and evaluator files into the cache (resumable, verified; --checkpoint NAME then finds them).")
        .WithExample("download", "cd_imagenet64_lpips")
        .WithExample("download", "all")
        .WithExample("download", "evaluator")
        .WithExample("download", "--list");
    config.AddCommand<InspectCommand>("inspect")
        .WithDescription("Say what a checkpoint is: format, dtypes, parameters, architecture flags, and which released preset or built-in model it fits, and why.")
        .WithExample("inspect", "cd_imagenet64_lpips.pt")
        .WithExample("inspect", "runs/cd/ema_0.999_001500.pt", "--keys");
    config.AddCommand<ConvertCommand>("convert")
        .WithDescription("Convert a checkpoint between .pt and .safetensors, optionally storing fp16 or bf16; prints keys, parameter count and the matching preset.")
        .WithExample("convert", "runs/cd/ema_0.999_001500.pt", "cd_fmnist32.safetensors", "--dtype", "fp16");
    config.AddBranch("export", export =>
    {
        export.SetDescription("Export a model for other runtimes.");
        export.AddCommand<ExportOnnxCommand>("onnx")
            .WithDescription("Write the whole denoiser D(x, sigma, class) -> denoised (UNet and its EDM/consistency scalings) as an ONNX graph with dynamic batch, the weights inside and the sampling defaults in its metadata (docs/onnx.md).")
            .WithExample("export", "onnx", "--output", "cd_fmnist32.onnx")
            .WithExample("export", "onnx", "--preset", "cd_imagenet64_lpips", "--checkpoint", "cd_imagenet64_lpips.pt", "--output", "cd_imagenet64_lpips.onnx")
            .WithExample("export", "onnx", "--model-config", "my_model.json", "--checkpoint", "ema_0.9999_100000.pt", "--output", "my_model.onnx", "--opset", "21");
    });
    config.AddCommand<PlotCommand>("plot")
        .WithDescription("Redraw a training run's loss.png and schedule.png (N(k), μ(k)) from its log.csv.")
        .WithExample("plot", "runs/cd");
    config.AddCommand<ServeCommand>("serve")
        .WithDescription("Open the web studio: generate and edit in the browser, with a JSON API for scripts (GET /api/models, POST /api/generate, POST /api/edit).")
        .WithExample("serve")
        .WithExample("serve", "--port", "8080", "--checkpoint", "runs/cd/ema_0.999_001500.pt");
    config.AddCommand<DoctorCommand>("doctor")
        .WithDescription("Show the runtime: libtorch in use and where it was loaded from, CUDA devices, CPU features (AVX-512, AMX), threads, cache folder.");
    config.AddCommand<PresetsCommand>("presets")
        .WithDescription("List the released checkpoints (presets) and the model-zoo sampling recipes with their sampling settings.");
    config.PropagateExceptions();
    config.UseStrictParsing();
});

int exitCode;
try
{
    exitCode = app.Run(args);
}
catch (Exception e) when (CliErrors.IsUserError(e))
{
    CliErrors.Print(e);
    exitCode = 2;
}
catch (TypeInitializationException e) when (e.TypeName == "TorchSharp.torch")
{
    Console.Error.WriteLine("error: libtorch could not be loaded. " + (ConsistencyModels.Runtime.LibTorchLocator.RequestedDirectory is null
        ? "This cm was built without a bundled libtorch (-p:LibTorchBackend=none): set CM_LIBTORCH to a libtorch lib folder, e.g. " +
          "CM_LIBTORCH=$(python3 -c \"import torch, os; print(os.path.join(os.path.dirname(torch.__file__), 'lib'))\")"
        : $"CM_LIBTORCH={ConsistencyModels.Runtime.LibTorchLocator.RequestedDirectory} did not provide a libtorch that TorchSharp can use " +
          "(TorchSharp 0.107 needs libtorch 2.10 or a compatible PyTorch, e.g. 2.11)") + $" ({e.InnerException?.Message.Split('\n')[0]})");
    exitCode = 3;
}
catch (Exception e)
{
    // An unexpected failure: report it once, with its stack, and exit 1 (under mpirun that ends the other ranks below).
    Console.Error.WriteLine(e);
    exitCode = 1;
}
// Under mpirun, a failing rank must end the job rather than leave the others waiting in a collective. A run stopped by
// a signal (130/143) is no failure: every rank stopped at the same step and rank 0 saved it.
if (exitCode != 0 && !StopSignals.IsStopCode(exitCode)) Cluster.AbortOthers(exitCode);
Cluster.Shutdown();
return exitCode;

