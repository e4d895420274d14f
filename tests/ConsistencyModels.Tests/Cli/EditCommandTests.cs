// `cm edit` end to end on the built-in model with made-up inputs: grids of the right shape, clear errors on bad input.
using ConsistencyModels.Editing;
using ConsistencyModels.IO.Images;
using ConsistencyModels.Tests.IO;
using SkiaSharp;
using Xunit;

namespace ConsistencyModels.Tests.Cli;

public sealed class EditCommandTests : IDisposable
{
    private readonly TempDir _tmp = new();

    public void Dispose() => _tmp.Dispose();

    private string Temp(string name) => _tmp.File(name);

    /// <summary>A w×h RGB test picture: a bright ellipse-ish blob on black.</summary>
    private string Picture(int w, int h)
    {
        var path = Temp($"pic{w}x{h}.png");
        var rgb = new byte[w * h * 3];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
            {
                double dx = (x - w / 2.0) / (w / 3.0), dy = (y - h / 2.0) / (h / 2.5);
                byte v = dx * dx + dy * dy < 1 ? (byte)220 : (byte)0;
                rgb[(y * w + x) * 3] = v; rgb[(y * w + x) * 3 + 1] = (byte)(v / 2); rgb[(y * w + x) * 3 + 2] = v;
            }
        ImageIO.SavePng(path, rgb, h, w, 3);
        return path;
    }

    private static (int h, int w) Size(string png)
    {
        using var b = SKBitmap.Decode(png);
        return (b.Height, b.Width);
    }

    [Fact]
    public void InpaintWritesReferenceInputAndResultPerRow()
    {
        var grid = Temp("inpaint.png");
        var outDir = Temp("out");
        var mask = Temp("mask.png");
        var m = new byte[32 * 32];
        for (int y = 8; y < 24; y++) for (int x = 0; x < 32; x++) m[y * 32 + x] = 255;     // regenerate a band
        ImageIO.SavePng(mask, m, 32, 32, 1);
        var picture = Picture(32, 32);
        var r = CmProcess.Run("edit", "inpaint", "--input", picture, "--input", Picture(40, 50), "--class-labels", "0,8",
                              "--mask", mask, "--ts", "0,20,39", "--output", grid, "--output-dir", outDir);
        Assert.True(r.ExitCode == 0, r.All);
        Assert.Contains("40x50 centre-cropped and resized to 32x32", r.All);
        // Per row: reference | input | result, grey 32x32 (the built-in model).
        var tiles = GridImages.Read(grid, 6, 32, 32, 1, columns: 3);
        Assert.Equal(["000000.png", "000001.png"], Directory.GetFiles(outDir, "*.png").Select(Path.GetFileName).Order());
        // The first reference is the 32x32 picture in grey (PIL's "L" weights), up to the [-1, 1] round trip's one level.
        var grey = ImageIO.LoadGray(picture).data;
        Assert.All(Enumerable.Range(0, grey.Length), i => Assert.InRange(tiles[0][i] - grey[i], -1, 1));
        for (int row = 0; row < 2; row++)
        {
            byte[] reference = tiles[3 * row], input = tiles[3 * row + 1], result = tiles[3 * row + 2];
            for (int i = 0; i < 32 * 32; i++)
            {
                bool regenerated = i / 32 is >= 8 and < 24;                 // the white band of the mask
                // The input shows the reference with the band blacked out; the result keeps the reference's known pixels
                // exactly (the final replacement copies them).
                Assert.Equal(regenerated ? (byte)0 : reference[i], input[i]);
                if (!regenerated) Assert.Equal(reference[i], result[i]);
            }
            Assert.Equal(result, ImageIO.LoadGray(Path.Combine(outDir, $"{row:D6}.png")).data);   // --output-dir: the results
        }
    }

    [Fact]
    public void InterpolateWritesOneRowPerPairAndZoomEnlarges()
    {
        var grid = Temp("interp.png");
        var r = CmProcess.Run("edit", "interpolate", "--pairs", "2", "--frames", "5", "--zoom", "2", "--output", grid);
        Assert.True(r.ExitCode == 0, r.All);
        // Two rows of five 32x32 frames, each pixel drawn as a 2x2 block.
        foreach (var tile in GridImages.Read(grid, 10, 64, 64, 1, columns: 5))
            for (int y = 0; y < 64; y++)
                for (int x = 0; x < 64; x++)
                    Assert.True(tile[y * 64 + x] == tile[y / 2 * 2 * 64 + x / 2 * 2], $"pixel ({y}, {x}) differs from its 2x2 block");
    }

    [Fact]
    public void BadInputsSayWhatIsWrong()
    {
        var pic = Picture(32, 32);
        var small = Temp("small.png");
        ImageIO.SavePng(small, new byte[16 * 16], 16, 16, 1);
        var notImage = Temp("notes.png");
        File.WriteAllText(notImage, "this is text, not a PNG");

        void Fails(string expected, params string[] args)
        {
            var r = CmProcess.Run(args);
            Assert.True(r.ExitCode != 0, $"expected failure for {string.Join(" ", args)}: {r.All}");
            Assert.Contains(expected, r.All);
            Assert.DoesNotContain("   at ", r.All);                      // no stack trace
        }
        Fails("is 16x16, but the model generates 32x32", "edit", "inpaint", "--input", pic, "--class-labels", "1", "--mask", small);
        Fails("is not a readable image", "edit", "superres", "--input", notImage, "--class-labels", "1");
        Fails("needs an RGB model", "edit", "colorize", "--input", pic, "--class-labels", "1");
        Fails("give --class-labels", "edit", "denoise", "--input", pic);
        Fails("does not exist", "edit", "stroke", "--input", "/nonexistent/stroke.png", "--class-labels", "1");
        Fails("unknown edit task 'sharpen'", "edit", "sharpen", "--input", pic);
        Fails("needs reference images", "edit", "inpaint");
        Fails("must end at steps-1 = 39", "edit", "inpaint", "--input", pic, "--class-labels", "1", "--ts", "0,20");
    }

    [SkippableFact]
    public void EditsRgbModelsClassConditionalAt64AndUnconditionalAt256()
    {
        var grid = Temp("colorize256.png");
        var r = CmProcess.Run("edit", "colorize", "--model-config", FixturePaths.Require("e2e/config_lsun256_w32_consistency.json"),
            "--checkpoint", FixturePaths.Require("model_lsun256_topology.pt"), "--input", Picture(300, 200), "--ts", "0,39", "--output", grid);
        Assert.True(r.ExitCode == 0, r.All);
        Assert.Equal(ImageIO.GridSize(3, 256, 256, 3), Size(grid));
        var grid64 = Temp("superres64.png");
        var picture64 = Picture(64, 64);
        r = CmProcess.Run("edit", "superres", "--model-config", FixturePaths.Require("e2e/config_imagenet64_w32_consistency.json"),
            "--checkpoint", FixturePaths.Require("model_imagenet64_topology.pt"), "--input", picture64, "--class-labels", "207",
            "--ts", "0,20,39", "--output", grid64);
        Assert.True(r.ExitCode == 0, r.All);
        // Reference and input, written out: the picture itself, and every 8x8 patch (the default from 64 px) replaced by
        // its mean per channel; both up to the [-1, 1] round trip's one level.
        var tiles = GridImages.Read(grid64, 3, 64, 64, 3);
        var rgb = ImageIO.LoadRgb(picture64).data;
        Assert.All(Enumerable.Range(0, rgb.Length), i => Assert.InRange(tiles[0][i] - rgb[i], -1, 1));
        for (int i = 0; i < rgb.Length; i++)
        {
            int y = i / (64 * 3), x = i / 3 % 64, ch = i % 3;
            double mean = 0;
            for (int py = y / 8 * 8; py < y / 8 * 8 + 8; py++)
                for (int px = x / 8 * 8; px < x / 8 * 8 + 8; px++) mean += rgb[(py * 64 + px) * 3 + ch] / 64.0;
            Assert.True(Math.Abs(tiles[1][i] - mean) <= 1, $"input pixel ({y}, {x}, {ch}) = {tiles[1][i]}, patch mean {mean}");
        }
        r = CmProcess.Run("edit", "denoise", "--model-config", FixturePaths.Require("e2e/config_lsun256_w32_consistency.json"),
            "--checkpoint", FixturePaths.Require("model_lsun256_topology.pt"), "--input", Picture(256, 256), "--class-labels", "3");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("the model is unconditional", r.All);
    }

    [Fact]
    public void FilesAreConvertedToTheModelsChannelsAndSize()
    {
        var e = EditInputs.FromFiles([Picture(40, 50)], 32, 1);
        Assert.Equal(new long[] { 1, 1, 32, 32 }, e.Images.shape);
        Assert.Single(e.Notes);
        Assert.InRange(e.Images.min().item<float>(), -1f, 1f);
        Assert.InRange(e.Images.max().item<float>(), -1f, 1f);
    }
}
