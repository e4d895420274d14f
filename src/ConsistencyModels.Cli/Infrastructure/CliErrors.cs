// Turns expected failures (bad input, missing files, mismatching checkpoints) into one readable message, no stack trace.
using ConsistencyModels.Presets;
using ConsistencyModels.IO;
using ConsistencyModels.IO.Checkpoints;
using Spectre.Console;
using Spectre.Console.Cli;

namespace ConsistencyModels.Cli;

internal static class CliErrors
{
    public static bool IsUserError(Exception e) => e is ArgumentException or FileNotFoundException or DirectoryNotFoundException
        or CheckpointMismatchException or CheckpointFormatException or CommandParseException or CommandRuntimeException
        or InvalidDataException or Metrics.EvaluationInputException or IOException or NotSupportedException or UnauthorizedAccessException or DllNotFoundException;

    public static void Print(Exception e)
    {
        var message = e is CommandParseException or CommandRuntimeException && e.InnerException is not null ? e.InnerException.Message : e.Message;
        AnsiConsole.Console.Profile.Out.Writer.Flush();
        Console.Error.WriteLine("error: " + OptionNames.ForCli(message));
    }
}
