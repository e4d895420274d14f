// Writes a GenerationResult as a grid image, one PNG per sample and/or the official npz layout.
using ConsistencyModels.IO.Images;
using ConsistencyModels.IO.Numpy;
using ConsistencyModels.Pipelines;
using Spectre.Console;

namespace ConsistencyModels.Cli.Commands;

internal static class Outputs
{
    public static void Write(GenerationResult r, GenerateCommand.Settings s)
    {
        string? grid = s.Output ?? (s.OutputDir is null && s.Npz is null ? "samples.png" : null);
        if (grid is not null)
        {
            ImageIO.SaveGrid(grid, r.Images, r.Count, r.Height, r.Width, r.Channels);
            AnsiConsole.MarkupLine($"wrote grid [green]{Markup.Escape(grid)}[/] ({r.Count} images)");
        }
        if (s.OutputDir is not null)
        {
            Directory.CreateDirectory(s.OutputDir);
            int pixels = r.Height * r.Width * r.Channels;
            for (int i = 0; i < r.Count; i++)
                ImageIO.SavePng(Path.Combine(s.OutputDir, $"{i:D6}.png"), r.Images.AsSpan(i * pixels, pixels).ToArray(), r.Height, r.Width, r.Channels);
            AnsiConsole.MarkupLine($"wrote {r.Count} PNG files to [green]{Markup.Escape(s.OutputDir)}[/]");
        }
        if (s.Npz is not null)
        {
            var arrays = new List<NpyArray> { new("arr_0", NpyDtype.UInt8, [r.Count, r.Height, r.Width, r.Channels], r.Images) };
            if (r.Labels is not null)
                arrays.Add(new NpyArray("arr_1", NpyDtype.Int64, [r.Count], r.Labels.SelectMany(BitConverter.GetBytes).ToArray()));
            ConsistencyModels.IO.Numpy.Npz.Write(s.Npz, [.. arrays]);
            AnsiConsole.MarkupLine($"wrote [green]{Markup.Escape(s.Npz)}[/] " +
                Markup.Escape($"(arr_0 uint8 [{r.Count}, {r.Height}, {r.Width}, {r.Channels}]{(r.Labels is null ? "" : ", arr_1 int64 labels")})"));
        }
    }
}
