// `cm edit` end to end on the built-in model with made-up inputs: grids of the right shape, clear errors on bad input.
using ConsistencyModels.Editing;
using ConsistencyModels.IO.Images;
using ConsistencyModels.Tests.IO;
using SkiaSharp;
using Xunit;

namespace ConsistencyModels.Tests.Cli;

public class EditCommandTests
{
    private static string Temp(string name) => Path.Combine(Path.GetTempPath(), $"cm-test-{Guid.NewGuid():N}-{name}");

    /// <summary>A w×h RGB test picture: a bright ellipse-ish blob on black.</summary>
    private static string Picture(int w, int h)
    {
        var path = Temp("pic.png");
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
        var r = CmProcess.Run("edit", "inpaint", "--input", Picture(32, 32), "--input", Picture(40, 50), "--class-labels", "0,8",
                              "--mask", mask, "--ts", "0,20,39", "--output", grid, "--output-dir", outDir);
        Assert.True(r.ExitCode == 0, r.All);
        Assert.Contains("40x50 centre-cropped and resized to 32x32", r.All);
        Assert.Equal(ImageIO.GridSize(6, 32, 32, 3), Size(grid));
        Assert.Equal(2, Directory.GetFiles(outDir, "*.png").Length);
    }

    [Fact]
    public void InterpolateWritesOneRowPerPairAndZoomEnlarges()
    {
        var grid = Temp("interp.png");
        var r = CmProcess.Run("edit", "interpolate", "--pairs", "2", "--frames", "5", "--zoom", "2", "--output", grid);
        Assert.True(r.ExitCode == 0, r.All);
        Assert.Equal(ImageIO.GridSize(10, 64, 64, 5), Size(grid));
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

    [Fact]
    public void EditsRgbModelsClassConditionalAt64AndUnconditionalAt256()
    {
        if (FixturePaths.Unavailable()) return;
        var grid = Temp("colorize256.png");
        var r = CmProcess.Run("edit", "colorize", "--model-config", FixturePaths.Require("e2e/config_lsun256_w32_consistency.json"),
            "--checkpoint", FixturePaths.Require("model_lsun256_topology.pt"), "--input", Picture(300, 200), "--ts", "0,39", "--output", grid);
        Assert.True(r.ExitCode == 0, r.All);
        Assert.Equal(ImageIO.GridSize(3, 256, 256, 3), Size(grid));
        var grid64 = Temp("superres64.png");
        r = CmProcess.Run("edit", "superres", "--model-config", FixturePaths.Require("e2e/config_imagenet64_w32_consistency.json"),
            "--checkpoint", FixturePaths.Require("model_imagenet64_topology.pt"), "--input", Picture(64, 64), "--class-labels", "207",
            "--ts", "0,20,39", "--output", grid64);
        Assert.True(r.ExitCode == 0, r.All);
        Assert.Equal(ImageIO.GridSize(3, 64, 64, 3), Size(grid64));
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
