// `cm evaluate` end to end: identical sets score zero, stats-only references, the Inception path, clear errors.
using System.Text.Json;
using ConsistencyModels.IO.Numpy;
using ConsistencyModels.Metrics;
using ConsistencyModels.Tests.Metrics;
using Xunit;
using static TorchSharp.torch;

namespace ConsistencyModels.Tests.Cli;

public class EvaluateCommandTests
{
    private static string FashionTest => Requirements.FashionMnist(Requirements.FashionMnistTestImages);

    private static JsonElement Json(CmProcess.Result r)
    {
        Assert.True(r.ExitCode == 0, r.All);
        return JsonDocument.Parse(r.Stdout).RootElement;
    }

    [SkippableFact]
    public void ADatasetAgainstItselfScoresZeroAndFullPrecisionRecall()
    {
        var json = Json(CmProcess.Run("evaluate", "--samples", FashionTest, "--num-samples", "300", "--num-reference", "300",
                                      "--reference", FashionTest, "--json"));
        Assert.StartsWith("fmnist-classifier-128", json.GetProperty("feature_extractor").GetString());
        Assert.Equal(300, json.GetProperty("num_samples").GetInt64());
        // Zero up to eigenvalue rounding: the traces are in the hundreds and some feature directions are empty.
        Assert.InRange(json.GetProperty("fid").GetDouble(), -1e-4, 1e-4);
        Assert.Equal(1.0, json.GetProperty("precision").GetDouble());
        Assert.Equal(1.0, json.GetProperty("recall").GetDouble());
        // IS = exp(mean over images of KL(p(y|x) || p(y))), written out from the classifier's probabilities of the same
        // 300 images (one split: fewer than 5000 images).
        using var extractor = FashionMnistExtractor.LoadBuiltIn();
        using var set = Evaluation.Embed(extractor, ImageSource.FromDataset(DomainClassifierTests.FashionMnistTest(), 0, 300));
        using var p = set.Probabilities!.to(ScalarType.Float64);
        int n = (int)p.shape[0], classes = (int)p.shape[1];
        var probabilities = p.data<double>().ToArray();
        var marginal = new double[classes];
        for (int i = 0; i < n; i++) for (int c = 0; c < classes; c++) marginal[c] += probabilities[i * classes + c] / n;
        double kl = 0;
        for (int i = 0; i < n; i++)
            for (int c = 0; c < classes; c++)
                if (probabilities[i * classes + c] > 0) kl += probabilities[i * classes + c] * (Math.Log(probabilities[i * classes + c]) - Math.Log(marginal[c])) / n;
        Assert.Equal(Math.Exp(kl), json.GetProperty("inception_score").GetDouble(), 1e-6);
    }

    [SkippableFact]
    public void StatisticsOnlyReferenceGivesFidAndSaysWhyNoPrecisionRecall()
    {
        var test = DomainClassifierTests.FashionMnistTest();
        using var dir = new TempDir();
        // Reference statistics of test[:400] made with the library, stored as the official reference batches store them.
        using (var extractor = FashionMnistExtractor.LoadBuiltIn())
        using (var set = Evaluation.Embed(extractor, ImageSource.FromDataset(test, 0, 400)))
        using (var stats = set.Statistics.ToGaussian())
            Npz.Write(dir.File("ref.npz"), stats.ToNpy().ToArray());
        var json = Json(CmProcess.Run("evaluate", "--samples", FashionTest, "--num-samples", "400", "--reference", dir.File("ref.npz"), "--json"));
        // Zero up to eigenvalue rounding: the traces are in the hundreds and some feature directions are empty.
        Assert.InRange(json.GetProperty("fid").GetDouble(), -1e-4, 1e-4);
        Assert.Equal(JsonValueKind.Null, json.GetProperty("precision").ValueKind);
        Assert.Contains("reference images", json.GetProperty("notes")[0].GetString());
    }

    [SkippableFact]
    public void SampleShardsAreReadInOrderAndDifferentSetsScoreAboveZero()
    {
        var test = DomainClassifierTests.FashionMnistTest();   // the default reference
        using var dir = new TempDir();
        Directory.CreateDirectory(dir.File("shards"));
        var g = new Generator(0, CPU).manual_seed(3);
        using var scope = NewDisposeScope();
        var parts = Enumerable.Range(0, 3).Select(_ => randint(0, 256, [50, 32, 32, 1], dtype: ScalarType.Byte, generator: g)).ToArray();
        for (int i = 0; i < 3; i++) Npz.Write(dir.File($"shards/samples_{i:D5}.npz"), NpyArray.FromTensor("arr_0", parts[i]));
        Npz.Write(dir.File("joined.npz"), NpyArray.FromTensor("arr_0", cat(parts)));
        string[] common = ["--num-reference", "500", "--json", "--kid-subset-size", "100", "--kid-subsets", "10"];
        var json = Json(CmProcess.Run(["evaluate", "--samples", dir.File("shards"), .. common]));
        var joined = Json(CmProcess.Run(["evaluate", "--samples", dir.File("joined.npz"), .. common]));
        Assert.Equal(150, json.GetProperty("num_samples").GetInt64());
        // Three shards read in name order are the same 150 images as one file. The network batches differ (50 per shard,
        // 100 + 50 for the file), so the streamed statistics merge in another order: FID agrees to float64 rounding.
        double fid = joined.GetProperty("fid").GetDouble();
        Assert.Equal(fid, json.GetProperty("fid").GetDouble(), 1e-9 * fid);
        foreach (var key in new[] { "precision", "recall", "kid", "inception_score" })
            Assert.Equal(joined.GetProperty(key).GetDouble(), json.GetProperty(key).GetDouble(), 1e-9);
        Assert.True(json.GetProperty("fid").GetDouble() > 10, "noise should be far from Fashion-MNIST");
        // The numbers are the library's on the same images: the 150 samples against the first 500 test images.
        using var extractor = FashionMnistExtractor.LoadBuiltIn();
        using var samples = Evaluation.Embed(extractor, ImageSource.FromNpz(dir.File("joined.npz"))!);
        using var reference = Evaluation.Embed(extractor, ImageSource.FromDataset(test, 0, 500));
        using var sampleStats = samples.Statistics.ToGaussian();
        using var referenceStats = reference.Statistics.ToGaussian();
        Assert.Equal(FrechetDistance.Compute(sampleStats, referenceStats), fid, 1e-9 * fid);
        var kid = KernelInceptionDistance.Compute(reference.Features, samples.Features, new KidOptions(SubsetSize: 100, Subsets: 10));
        Assert.Equal(kid.Mean, json.GetProperty("kid").GetDouble(), 1e-9);
        Assert.Equal(kid.Std, json.GetProperty("kid_std").GetDouble(), 1e-9);
    }

    [Fact]
    public void InceptionPathRunsWithATorchScriptFileAndNamesIt()
    {
        using var dir = new TempDir();
        var g = new Generator(0, CPU).manual_seed(4);
        using var scope = NewDisposeScope();
        Npz.Write(dir.File("a.npz"), NpyArray.FromTensor("arr_0", randint(0, 256, [20, 24, 24, 3], dtype: ScalarType.Byte, generator: g)));
        Npz.Write(dir.File("b.npz"), NpyArray.FromTensor("arr_0", randint(0, 128, [20, 24, 24, 3], dtype: ScalarType.Byte, generator: g)));
        var standIn = Path.Combine(AppContext.BaseDirectory, "Metrics", "Data", "inception_standin.pt");
        var json = Json(CmProcess.Run("evaluate", "--samples", dir.File("a.npz"), "--reference", dir.File("b.npz"), "--inception", standIn, "--json"));
        Assert.StartsWith("inception-v3 pool_3", json.GetProperty("feature_extractor").GetString());
        // The same numbers as the library computes in this process from the same files.
        using var extractor = InceptionV3Extractor.Load(standIn);
        using var a = Evaluation.Embed(extractor, ImageSource.FromNpz(dir.File("a.npz"))!);
        using var b = Evaluation.Embed(extractor, ImageSource.FromNpz(dir.File("b.npz"))!);
        using var sa = a.Statistics.ToGaussian();
        using var sb = b.Statistics.ToGaussian();
        double fid = FrechetDistance.Compute(sa, sb);
        Assert.True(fid > 0);
        Assert.Equal(fid, json.GetProperty("fid").GetDouble(), 1e-9 * Math.Abs(fid));
        Assert.Equal(InceptionScore.Compute(a.Probabilities!).Mean, json.GetProperty("inception_score").GetDouble(), 1e-9);
        Assert.Contains(json.GetProperty("notes").EnumerateArray(), n => n.GetString()!.StartsWith("sFID"));
    }

    [Fact]
    public void MissingInceptionFileExplainsHowToGetIt()
    {
        using var dir = new TempDir();
        using var scope = NewDisposeScope();
        Npz.Write(dir.File("a.npz"), NpyArray.FromTensor("arr_0", zeros([4, 64, 64, 3], ScalarType.Byte)));
        var r = CmProcess.Run("evaluate", "--samples", dir.File("a.npz"), "--reference", dir.File("a.npz"), "--inception", dir.File("nope.pt"));
        Assert.Equal(2, r.ExitCode);
        Assert.Contains(InceptionV3Extractor.DownloadUrl, r.All);
    }

    [Fact]
    public void WrongExtractorForTheImagesIsRefused()
    {
        using var dir = new TempDir();
        using var scope = NewDisposeScope();
        Npz.Write(dir.File("a.npz"), NpyArray.FromTensor("arr_0", zeros([4, 64, 64, 3], ScalarType.Byte)));
        var r = CmProcess.Run("evaluate", "--samples", dir.File("a.npz"), "--feature-extractor", "fmnist");
        Assert.Equal(2, r.ExitCode);
        Assert.Contains("32x32 grey", r.All);
    }
}
