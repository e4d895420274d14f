// Writes generated batches as they arrive: PNGs to --output-dir at once; the grid and the npz (official layout:
// arr_0 uint8 NHWC, arr_1 int64 labels, empty for unconditional models) at the end.
using ConsistencyModels.IO.Images;
using ConsistencyModels.IO.Numpy;
using ConsistencyModels.Nn;
using ConsistencyModels.Pipelines;
using Spectre.Console;

namespace ConsistencyModels.Cli.Commands;

internal sealed class Outputs
{
    private readonly GenerateCommand.Settings _s;
    private readonly string? _grid;
    private readonly int _count, _h, _w, _c;
    private readonly byte[]? _all;
    private readonly long[] _labels;

    public Outputs(GenerateCommand.Settings s, int count, ModelConfig config)
    {
        _s = s;
        (_count, _h, _w, _c) = (count, config.ImageSize, config.ImageSize, config.InChannels);
        _grid = s.Output ?? (s.OutputDir is null && s.Npz is null ? "samples.png" : null);
        _labels = config.ResolvedNumClasses is null ? [] : new long[count];
        if (_grid is not null || s.Npz is not null)
        {
            long bytes = (long)count * _h * _w * _c;
            if (bytes > Array.MaxLength)
                throw new ArgumentException($"{count} images of {_h}px are too many for one grid/npz file ({bytes / 1e9:F1} GB): use --output-dir");
            _all = new byte[bytes];
        }
        if (s.OutputDir is not null) Directory.CreateDirectory(s.OutputDir);
    }

    public void Add(GenerationBatch b)
    {
        int pixels = _h * _w * _c;
        if (_all is not null) b.Images.CopyTo(_all.AsSpan(b.Start * pixels));
        if (b.Labels is not null) b.Labels.CopyTo(_labels, b.Start);
        if (_s.OutputDir is not null)
            for (int i = 0; i < b.Count; i++)
                ImageIO.SavePng(Path.Combine(_s.OutputDir, $"{b.Start + i:D6}.png"), b.Images.AsSpan(i * pixels, pixels).ToArray(), _h, _w, _c);
    }

    public void Finish()
    {
        if (_grid is not null)
        {
            ImageIO.SaveGrid(_grid, _all!, _count, _h, _w, _c);
            AnsiConsole.MarkupLine($"wrote grid [green]{Markup.Escape(_grid)}[/] ({_count} images)");
        }
        if (_s.OutputDir is not null)
            AnsiConsole.MarkupLine($"wrote {_count} PNG files to [green]{Markup.Escape(_s.OutputDir)}[/]");
        if (_s.Npz is not null)
        {
            Npz.Write(_s.Npz,
                new NpyArray("arr_0", NpyDtype.UInt8, [_count, _h, _w, _c], _all!),
                new NpyArray("arr_1", NpyDtype.Int64, [_labels.Length], _labels.SelectMany(BitConverter.GetBytes).ToArray()));
            AnsiConsole.MarkupLine($"wrote [green]{Markup.Escape(_s.Npz)}[/] " +
                Markup.Escape($"(arr_0 uint8 [{_count}, {_h}, {_w}, {_c}], arr_1 int64 [{_labels.Length}] labels)"));
        }
    }
}
