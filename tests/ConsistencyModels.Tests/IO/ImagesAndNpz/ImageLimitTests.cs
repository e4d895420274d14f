// A few hundred bytes of PNG can declare 30000x30000 pixels: every image reader checks the header first.
using System.Buffers.Binary;
using System.IO.Hashing;
using ConsistencyModels.Data;
using ConsistencyModels.Editing;
using ConsistencyModels.IO;
using ConsistencyModels.IO.Images;
using ConsistencyModels.Tests.Cli;
using Xunit;

namespace ConsistencyModels.Tests.IO.ImagesAndNpz;

public sealed class ImageLimitTests : IDisposable
{
    private readonly TempDir _tmp = new();

    public void Dispose() => _tmp.Dispose();

    /// <summary>A small real PNG whose IHDR is patched to claim <paramref name="w"/>x<paramref name="h"/> (CRC fixed): the pixels are missing.</summary>
    private string Claiming(int w, int h, string name = "big.png")
    {
        var path = _tmp.File(name);
        ImageIO.SavePng(path, new byte[8 * 8], 8, 8, 1);
        var png = File.ReadAllBytes(path);
        Assert.Equal("IHDR"u8.ToArray(), png[12..16]);
        BinaryPrimitives.WriteInt32BigEndian(png.AsSpan(16), w);
        BinaryPrimitives.WriteInt32BigEndian(png.AsSpan(20), h);
        BinaryPrimitives.WriteUInt32BigEndian(png.AsSpan(29), Crc32.HashToUInt32(png.AsSpan(12, 17)));
        File.WriteAllBytes(path, png);
        Assert.Equal((h, w), ImageIO.ReadSize(path));
        return path;
    }

    /// <summary>Runs <paramref name="read"/> and checks that it refused before allocating the pixels.</summary>
    private static T RefusedCheaply<T>(Action read) where T : Exception
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<T>(read);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 64 << 20, "the pixels were allocated before the size was checked");
        Assert.DoesNotContain('\n', e.Message);
        return e;
    }

    [Fact]
    public void A_30000_pixel_png_is_refused_from_its_header()
    {
        var path = Claiming(30000, 30000);
        Assert.True(new FileInfo(path).Length < 1000);
        foreach (var load in new Action[] { () => ImageIO.LoadRgb(path), () => ImageIO.LoadGray(path) })
        {
            var e = RefusedCheaply<ImageTooLargeException>(load);
            Assert.Contains("30000x30000", e.Message);
            Assert.Contains(path, e.Message);
            Assert.Contains("limit of 4096 a side (`MaxImageSide`)", e.Message);
        }
        // A side within a raised limit gets past the check (and then fails on the missing pixels, as before).
        var small = Claiming(5000, 20, "wide.png");
        RefusedCheaply<ImageTooLargeException>(() => ImageIO.LoadRgb(small));
        Assert.IsType<InvalidDataException>(Assert.ThrowsAny<Exception>(() => ImageIO.LoadRgb(small, ReadLimits.Default with { MaxImageSide = 5000 })));
    }

    [Fact]
    public void Edit_inputs_are_refused_with_the_limit_not_as_unreadable()
    {
        var path = Claiming(20000, 20000);
        var e = RefusedCheaply<ImageTooLargeException>(() => EditInputs.FromFiles([path], 32, 3));
        Assert.Contains("20000x20000", e.Message);
        Assert.DoesNotContain("not a readable image", e.Message);
    }

    [Fact]
    public void A_mask_of_the_wrong_size_is_refused_before_it_is_decoded()
    {
        var path = Claiming(20000, 20000, "mask.png");
        var e = RefusedCheaply<ArgumentException>(() => EditInputs.MaskFromFile(path, 32));
        Assert.Contains("is 20000x20000, but the model generates 32x32", e.Message);
        // A mask of the right size still loads.
        var ok = _tmp.File("ok.png");
        ImageIO.SavePng(ok, Enumerable.Repeat((byte)255, 32 * 32).ToArray(), 32, 32, 1);
        using var known = EditInputs.MaskFromFile(ok, 32);
        Assert.Equal(0f, known.sum().item<float>());
    }

    [Fact]
    public void A_training_folder_image_above_the_limit_is_refused_when_read()
    {
        var folder = Path.Combine(_tmp.Path, "data");
        Directory.CreateDirectory(folder);
        File.Move(Claiming(20000, 20000), Path.Combine(folder, "a_0.png"));
        ImageIO.SavePng(Path.Combine(folder, "b_0.png"), new byte[16 * 16 * 3], 16, 16, 3);
        var ds = TrainingData.Open(folder, 16, 3, classCond: false);
        var dest = new float[3 * 16 * 16];
        var e = RefusedCheaply<ImageTooLargeException>(() => ds.Read(0, dest));
        Assert.Contains("a_0.png", e.Message);
        ds.Read(1, dest); // the honest image beside it reads

        // A caller with large honest images raises the limit.
        var raised = TrainingData.Open(folder, 16, 3, classCond: false, ReadLimits.Default with { MaxImageSide = 8192 });
        Assert.Contains("limit of 8192", RefusedCheaply<ImageTooLargeException>(() => raised.Read(0, dest)).Message);
    }

    [Fact]
    public void Cm_edit_with_a_huge_input_prints_one_line_naming_the_variable()
    {
        var path = Claiming(20000, 20000);
        var r = CmProcess.Run("edit", "inpaint", "--input", path, "--output", _tmp.File("out.png"));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains($"'{path}' is 20000x20000 pixels, above the limit of 4096 a side (environment variable CM_MAX_IMAGE_SIDE)", r.Stderr);
        Assert.DoesNotContain("   at ", r.All);
        var raised = CmProcess.RunWith(new Dictionary<string, string> { ["CM_MAX_IMAGE_SIDE"] = "nope" }, "edit", "inpaint", "--input", path);
        Assert.Contains("CM_MAX_IMAGE_SIDE=nope is not a positive integer", raised.Stderr);
        Assert.Equal(2, raised.ExitCode);
    }
}
