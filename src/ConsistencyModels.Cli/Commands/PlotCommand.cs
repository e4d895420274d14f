// `cm plot RUN_DIR`: redraws a training run's loss.png and schedule.png from its log.csv (training does this at each save).
using System.ComponentModel;
using ConsistencyModels.Cli.Reporting;
using ConsistencyModels.Training;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ConsistencyModels.Cli.Commands;

internal sealed class PlotCommand : Command<PlotCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandArgument(0, "<RUN_DIR>"), Description("A `cm train` output folder (holding log.csv).")]
        public string RunDir { get; init; } = "";

        [CommandOption("--title <TEXT>"), Description("Plot title (default: the folder name).")]
        public string? Title { get; init; }

        public override ValidationResult Validate() =>
            File.Exists(TrainingLog.PathIn(RunDir)) ? ValidationResult.Success()
                : ValidationResult.Error($"'{TrainingLog.PathIn(RunDir)}' does not exist: give the --output folder of a `cm train` run");
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellationToken)
    {
        TrainingPlots.Write(s.RunDir, s.Title ?? Path.GetFileName(Path.GetFullPath(s.RunDir).TrimEnd('/')));
        AnsiConsole.MarkupLine($"wrote [green]{Markup.Escape(TrainingPlots.LossPath(s.RunDir))}[/]" +
                               (File.Exists(TrainingPlots.SchedulePath(s.RunDir)) ? $" and [green]{Markup.Escape(TrainingPlots.SchedulePath(s.RunDir))}[/]" : ""));
        return 0;
    }
}
