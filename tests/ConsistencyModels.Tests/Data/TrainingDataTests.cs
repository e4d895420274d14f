// TrainingData.Open: which dataset a path selects, and its errors.
using ConsistencyModels.IO.Images;
using ConsistencyModels.IO.Numpy;
using ConsistencyModels.Data;
using Xunit;

namespace ConsistencyModels.Tests.Data;

public class TrainingDataTests
{
    [Fact]
    public void PicksTheDatasetByPath()
    {
        using var tmp = new TempDir();
        var idxDir = Directory.CreateDirectory(tmp.File("fashion")).FullName;
        IdxDatasetTests.WritePair(idxDir, ".gz");
        IdxDatasetTests.Write(Path.Combine(idxDir, "t10k-images-idx3-ubyte.gz"), IdxDatasetTests.ImagesFile(2, 28, 28));
        var fromDir = Assert.IsType<IdxDataset>(TrainingData.Open(idxDir, 32, 1, classCond: true));
        Assert.Equal((3, 10, 32), (fromDir.Count, fromDir.NumClasses, fromDir.ImageSize)); // train-* preferred over t10k-*
        var t10k = Assert.IsType<IdxDataset>(TrainingData.Open(Path.Combine(idxDir, "t10k-images-idx3-ubyte.gz"), 28, 1, classCond: false));
        Assert.Equal((2, null), (t10k.Count, t10k.NumClasses));

        var imgDir = Directory.CreateDirectory(tmp.File("images")).FullName;
        ImageIO.SavePng(Path.Combine(imgDir, "x_1.png"), new byte[8 * 8 * 3], 8, 8, 3);
        var folder = Assert.IsType<ImageFolderDataset>(TrainingData.Open(imgDir, 8, 3, classCond: false));
        Assert.Null(folder.NumClasses);

        Npz.Write(tmp.File("s.npz"), NpyArray.Create<byte>("arr_0", new byte[2 * 8 * 8 * 3], 2, 8, 8, 3));
        Assert.IsType<NpzDataset>(TrainingData.Open(tmp.File("s.npz"), 8, 3, classCond: false));
    }

    [Fact]
    public void UnknownOrMissingPaths_AreClearErrors()
    {
        using var tmp = new TempDir();
        Assert.Throws<FileNotFoundException>(() => TrainingData.Open(tmp.File("missing"), 32, 3, false));
        File.WriteAllText(tmp.File("data.csv"), "1,2");
        Assert.Contains("Cannot tell", Assert.Throws<ArgumentException>(() => TrainingData.Open(tmp.File("data.csv"), 32, 3, false)).Message);

        IdxDatasetTests.Write(tmp.File("a-images-idx3-ubyte"), IdxDatasetTests.ImagesFile(1, 28, 28));
        IdxDatasetTests.Write(tmp.File("b-images-idx3-ubyte"), IdxDatasetTests.ImagesFile(1, 28, 28));
        Assert.Contains("several IDX", Assert.Throws<ArgumentException>(() => TrainingData.Open(tmp.Path, 32, 1, false)).Message);
    }
}
