// Image folder loader tests: listing order, class-from-prefix labels, ADM centre crop, corrupt files.
using ConsistencyModels.IO.Images;
using ConsistencyModels.Data;
using Xunit;

namespace ConsistencyModels.Tests.Data;

public class ImageFolderDatasetTests
{
    /// <summary>a/n02_7.png, n01_9.png (40x30), n02_1.png, sub/n03_0.png, plus files that are not images.</summary>
    static void MakeFolder(TempDir tmp)
    {
        Directory.CreateDirectory(tmp.File("a"));
        Directory.CreateDirectory(tmp.File("sub"));
        ImageIO.SavePng(tmp.File("n01_9.png"), AdmCenterCropTests.Pattern(40, 30, 3), 30, 40, 3);
        ImageIO.SavePng(tmp.File("n02_1.png"), Solid(20, 20, 200, 0, 255), 20, 20, 3);
        ImageIO.SavePng(tmp.File("a/n02_7.png"), Solid(16, 16, 0, 0, 0), 16, 16, 3);
        ImageIO.SavePng(tmp.File("sub/n03_0.png"), Solid(16, 24, 255, 255, 255), 24, 16, 3);
        File.WriteAllText(tmp.File("notes.txt"), "not an image");
        File.WriteAllText(tmp.File("png"), "no extension");
    }

    static byte[] Solid(int w, int h, byte r, byte g, byte b)
    {
        var a = new byte[w * h * 3];
        for (var i = 0; i < a.Length; i += 3) (a[i], a[i + 1], a[i + 2]) = (r, g, b);
        return a;
    }

    [Fact]
    public void ListsRecursively_InSortedOrder_WithPrefixClasses()
    {
        using var tmp = new TempDir();
        MakeFolder(tmp);
        var data = new ImageFolderDataset(tmp.Path, 16, classCond: true);

        Assert.Equal(new[] { "a/n02_7.png", "n01_9.png", "n02_1.png", "sub/n03_0.png" },
            data.Files.Select(f => Path.GetRelativePath(tmp.Path, f)));
        Assert.Equal(new[] { "n01", "n02", "n03" }, data.ClassNames);
        Assert.Equal(3, data.NumClasses);
        var dest = new float[3 * 16 * 16];
        Assert.Equal(new[] { 1, 0, 1, 2 }, Enumerable.Range(0, 4).Select(i => data.Read(i, dest)));
        Assert.Equal(data.Files[3], data.Describe(3));
        Assert.Equal("cat.png", ImageFolderDataset.ClassNameOf("/x/cat.png")); // no '_': the whole name, as split("_")[0]

        var unconditional = new ImageFolderDataset(tmp.Path, 16);
        Assert.Null(unconditional.NumClasses);
        Assert.Equal(0, unconditional.Read(3, dest));
    }

    [Fact]
    public void Read_IsTheCentreCrop_ScaledToUnitRange()
    {
        using var tmp = new TempDir();
        MakeFolder(tmp);
        var data = new ImageFolderDataset(tmp.Path, 16);
        var dest = new float[3 * 16 * 16];

        data.Read(1, dest); // n01_9.png, 40x30
        var crop = AdmCenterCrop.Apply(AdmCenterCropTests.Pattern(40, 30, 3), 30, 40, 3, 16);
        for (var c = 0; c < 3; c++)
            for (var p = 0; p < 256; p++)
                Assert.Equal(crop[p * 3 + c] / 127.5f - 1f, dest[c * 256 + p]);

        data.Read(2, dest); // solid (200, 0, 255), 20x20 -> bicubic 16x16 keeps it solid
        Assert.All(dest[..256], v => Assert.Equal(200 / 127.5f - 1f, v));
        Assert.All(dest[256..512], v => Assert.Equal(-1f, v));
        Assert.All(dest[512..], v => Assert.Equal(1f, v));

        var gray = new ImageFolderDataset(tmp.Path, 8, channels: 1);
        var g = new float[64];
        gray.Read(3, g); // white 16x24 -> BOX to 8x12 -> crop 8x8
        Assert.All(g, v => Assert.Equal(1f, v));
    }

    [Fact]
    public void CorruptFile_ThrowsNamingIt_AndLoaderSkipsItWithOneWarning()
    {
        using var tmp = new TempDir();
        MakeFolder(tmp);
        var bad = tmp.File("n01_bad.png");
        File.WriteAllBytes(bad, [0x89, (byte)'P', (byte)'N', (byte)'G', 1, 2, 3]);
        var data = new ImageFolderDataset(tmp.Path, 16, classCond: true);
        var badIndex = data.Files.ToList().IndexOf(bad);
        var e = Assert.Throws<InvalidDataException>(() => data.Read(badIndex, new float[3 * 16 * 16]));
        Assert.Contains(bad, e.Message);

        var warnings = new List<string>();
        using var loader = new BatchLoader(data, data.Count, seed: 3, randomFlip: false, startStep: 0, warn: warnings.Add);
        for (var step = 0; step < 4; step++)
        {
            var batch = loader.Next();
            Assert.Equal(data.Count, batch.Labels.Length);
        }
        var warning = Assert.Single(warnings);
        Assert.Contains(bad, warning);
    }

    [Fact]
    public void EmptyOrMissingFolder_IsAClearError()
    {
        using var tmp = new TempDir();
        File.WriteAllText(tmp.File("notes.txt"), "x");
        Assert.Contains("No .jpg", Assert.Throws<ArgumentException>(() => new ImageFolderDataset(tmp.Path, 16)).Message);
        Assert.Throws<DirectoryNotFoundException>(() => new ImageFolderDataset(tmp.File("nope"), 16));
    }
}
