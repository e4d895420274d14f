// Loading and calling a TorchScript with the interface of inception-2015-12-05.pt (a stand-in made by tools/make_inception_standin.py).
using ConsistencyModels.IO.Checkpoints;
using ConsistencyModels.Metrics;
using Xunit;
using static TorchSharp.torch;

namespace ConsistencyModels.Tests.Metrics;

public class InceptionV3ExtractorTests
{
    private static string DataFile(string name) => Path.Combine(AppContext.BaseDirectory, "Metrics", "Data", name);

    [Fact]
    public void StandInGivesTheFeaturesAndProbabilitiesPyTorchComputed()
    {
        using var extractor = InceptionV3Extractor.Load(DataFile("inception_standin.pt"));
        var expected = TorchCheckpoint.LoadTensors(DataFile("inception_standin_outputs.pt"));
        using var scope = NewDisposeScope();
        var nhwc = expected["img"].permute(0, 2, 3, 1).contiguous();
        var (features, probabilities) = extractor.Extract(nhwc);
        Assert.Equal(2048, features.shape[1]);
        Assert.True(allclose(features, expected["features"], rtol: 1e-5, atol: 1e-6), "pool features differ from PyTorch's");
        // Probabilities come from the features and the file's output.weight (no bias), as forward(..., no_output_bias=True).
        Assert.NotNull(probabilities);
        Assert.True(allclose(probabilities!, expected["probabilities"], rtol: 1e-5, atol: 1e-7), "class probabilities differ from PyTorch's");
    }

    [Fact]
    public void GreyImagesAreFedAsRgb()
    {
        using var extractor = InceptionV3Extractor.Load(DataFile("inception_standin.pt"));
        using var scope = NewDisposeScope();
        var grey = randint(0, 256, [2, 16, 16, 1], dtype: ScalarType.Byte, generator: new Generator(0, CPU).manual_seed(2));
        var (a, _) = extractor.Extract(grey);
        var (b, _) = extractor.Extract(grey.expand(-1, -1, -1, 3).contiguous());
        Assert.True(a.allclose(b, rtol: 0, atol: 0));
    }

    [Fact]
    public void MissingFileSaysWhereToGetIt()
    {
        var e = Assert.Throws<FileNotFoundException>(() => InceptionV3Extractor.Load("/nonexistent/inception-2015-12-05.pt"));
        Assert.Contains(InceptionV3Extractor.DownloadUrl, e.Message);
        Assert.Contains("`FeatureExtractor` fmnist", e.Message);
    }

    [Fact]
    public void AStateDictIsRefusedWithAClearMessage()
    {
        var e = Assert.Throws<FormatException>(() => InceptionV3Extractor.Load(DataFile("inception_standin_outputs.pt")));
        Assert.Contains("TorchScript", e.Message);
    }

    [Fact]
    public void WrongImageLayoutIsRefused()
    {
        using var extractor = InceptionV3Extractor.Load(DataFile("inception_standin.pt"));
        Assert.Throws<ArgumentException>(() => extractor.Extract(zeros([1, 3, 8, 8], ScalarType.Byte)));
        Assert.Throws<ArgumentException>(() => extractor.Extract(zeros([1, 8, 8, 3], ScalarType.Float32)));
    }
}
