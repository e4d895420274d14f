// The shipped Fashion-MNIST evaluator network: loads, classifies the real test set as its metadata says, 128-d features.
using ConsistencyModels.Metrics;
using ConsistencyModels.Data;
using Xunit;
using static TorchSharp.torch;

namespace ConsistencyModels.Tests.Metrics;

public class DomainClassifierTests
{
    /// <summary>The Fashion-MNIST test images at 32x32 with labels; skips the test when absent (fails it under CI, where .ci/run installs them).</summary>
    internal static ITrainingDataset FashionMnistTest() =>
        TrainingData.Open(Requirements.FashionMnist(Requirements.FashionMnistTestImages), 32, 1, classCond: true);

    [Fact]
    public void BuiltInClassifierLoadsAndGives128dFeatures()
    {
        using var net = DomainClassifier.LoadBuiltIn();
        using var scope = NewDisposeScope();
        var f = net.Features(zeros(3, 1, 32, 32));
        Assert.Equal(new long[] { 3, DomainClassifier.FeatureDim }, f.shape);
        Assert.True(double.Parse(DomainClassifier.BuiltInMetadata["test_accuracy"], System.Globalization.CultureInfo.InvariantCulture) > 0.9);
        Assert.Throws<ArgumentException>(() => net.Features(zeros(1, 3, 32, 32)));
    }

    [SkippableFact]
    public void BuiltInClassifierIsAccurateOnTheRealTestSet()
    {
        var test = FashionMnistTest();
        using var net = DomainClassifier.LoadBuiltIn();
        double accuracy = DomainClassifierTraining.Accuracy(net, test);
        double recorded = double.Parse(DomainClassifier.BuiltInMetadata["test_accuracy"], System.Globalization.CultureInfo.InvariantCulture);
        // fp16 storage may move a few borderline predictions.
        Assert.InRange(accuracy, recorded - 0.003, recorded + 0.003);
    }
}
