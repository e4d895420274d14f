// `cm train-classifier`: trains the Fashion-MNIST evaluator network, reports its test accuracy, saves it as safetensors.
using System.ComponentModel;
using ConsistencyModels.IO.Checkpoints;
using ConsistencyModels.Metrics;
using ConsistencyModels.Data;
using Spectre.Console;
using Spectre.Console.Cli;
using static TorchSharp.torch;

namespace ConsistencyModels.Cli.Commands;

internal sealed class TrainClassifierCommand : Command<TrainClassifierCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--data <DIR>"), Description("Fashion-MNIST folder (train-images/labels-idx*-ubyte[[.gz]]; Debian: /usr/share/datasets/fashion-mnist).")]
        public string Data { get; init; } = "/usr/share/datasets/fashion-mnist";

        [CommandOption("--test <FILE>"), Description("Test images for the accuracy (default: t10k-images-idx3-ubyte[[.gz]] in --data).")]
        public string? Test { get; init; }

        [CommandOption("-o|--output <FILE>"), Description("Weights to write (.safetensors, fp16).")]
        public string Output { get; init; } = "fmnist_classifier.safetensors";

        [CommandOption("--epochs <N>"), Description("Passes over the training set (default 3).")]
        public int Epochs { get; init; } = 3;

        [CommandOption("--seed <N>"), Description("Seed of the initialisation and the data order (default 0).")]
        public long Seed { get; init; }

        [CommandOption("--threads <N>"), Description("CPU threads for libtorch.")]
        public int? Threads { get; init; }
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellationToken)
    {
        OutputChecks.File("--output", s.Output);
        if (s.Threads is int t) set_num_threads(t);
        var train = TrainingData.Open(s.Data, DomainClassifier.ImageSize, 1, classCond: true, InputLimits.FromEnvironment());
        var testPath = s.Test ?? new[] { "t10k-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte" }.Select(f => Path.Combine(s.Data, f)).FirstOrDefault(File.Exists)
            ?? throw new FileNotFoundException($"no t10k-images-idx3-ubyte[[.gz]] in '{s.Data}': give --test FILE");
        var test = TrainingData.Open(testPath, DomainClassifier.ImageSize, 1, classCond: true, InputLimits.FromEnvironment());
        var options = new DomainClassifierOptions(s.Epochs, Seed: s.Seed);
        DomainClassifier net = null!;
        AnsiConsole.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var task = ctx.AddTask("training", maxValue: (double)s.Epochs * train.Count / options.BatchSize);
                net = DomainClassifierTraining.Train(train, options, new SyncProgress<(long Step, long Steps, double Loss)>(p =>
                {
                    task.Value = p.Step;
                    task.Description = $"step {p.Step}/{p.Steps}  loss {p.Loss:F4}";
                }), cancellationToken);
            });
        double accuracy = DomainClassifierTraining.Accuracy(net, test);
        using var scope = NewDisposeScope();
        var tensors = net.state_dict().Select(kv => KeyValuePair.Create(kv.Key, kv.Value.to(ScalarType.Float16))).ToList();
        Safetensors.Save(s.Output, tensors, new Dictionary<string, string>
        {
            ["test_accuracy"] = accuracy.ToString("F4", System.Globalization.CultureInfo.InvariantCulture),
            ["command"] = $"cm train-classifier --data {s.Data} --epochs {s.Epochs} --seed {s.Seed}",
        });
        AnsiConsole.MarkupLine($"test accuracy [green]{accuracy:P2}[/] on {test.Count} images; wrote {Markup.Escape(s.Output)}");
        return 0;
    }
}
