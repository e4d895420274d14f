// Writes generated batches as they arrive: PNGs to --output-dir at once; the grid and the npz (official layout:
// arr_0 uint8 NHWC, arr_1 int64 labels, empty for unconditional models) at the end.
using ConsistencyModels.IO.Numpy;
using ConsistencyModels.Nn;
using ConsistencyModels.Pipelines;
using Spectre.Console;

namespace ConsistencyModels.Cli.Commands;

internal sealed class Outputs
{
    private readonly GenerateCommand.Settings _s;
    private readonly string? _grid;
    private readonly GenerationCollector? _all;        // only when a grid or npz needs every image at the end
    private readonly int? _columns;

    public Outputs(GenerateCommand.Settings s, int count, ModelConfig config, int? gridColumns)
    {
        _s = s;
        _columns = gridColumns;
        _grid = s.Output ?? (s.OutputDir is null && s.Npz is null ? "samples.png" : null);
        if (_grid is not null || s.Npz is not null)
            _all = new GenerationCollector(count, config.ImageSize, config.ImageSize, config.InChannels, config.ResolvedNumClasses is not null);
        if (s.OutputDir is not null) Directory.CreateDirectory(s.OutputDir);
    }

    public void Add(GenerationBatch b)
    {
        _all?.Add(b);
        if (_s.OutputDir is not null) b.SavePngs(_s.OutputDir, firstIndex: b.Start);
    }

    public void Finish()
    {
        var r = _all?.Result;
        if (_grid is not null)
        {
            r!.SaveGrid(_grid, _columns);
            AnsiConsole.MarkupLine($"wrote grid [green]{Markup.Escape(_grid)}[/] ({r.Count} images)");
        }
        if (_s.OutputDir is not null)
            AnsiConsole.MarkupLine($"wrote the PNG files to [green]{Markup.Escape(_s.OutputDir)}[/]");
        if (_s.Npz is not null)
        {
            long[] labels = r!.Labels ?? [];
            Npz.Write(_s.Npz,
                new NpyArray("arr_0", NpyDtype.UInt8, [r.Count, r.Height, r.Width, r.Channels], r.Images),
                NpyArray.Create<long>("arr_1", labels, labels.Length));
            AnsiConsole.MarkupLine($"wrote [green]{Markup.Escape(_s.Npz)}[/] " +
                Markup.Escape($"(arr_0 uint8 [{r.Count}, {r.Height}, {r.Width}, {r.Channels}], arr_1 int64 [{labels.Length}] labels)"));
        }
    }
}
