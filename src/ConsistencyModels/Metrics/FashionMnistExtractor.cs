// FID-FMNIST features: the shipped Fashion-MNIST classifier's 128-d penultimate layer ("Fréchet LeNet distance" practice).
using static TorchSharp.torch;

namespace ConsistencyModels.Metrics;

/// <summary>Embeds 32x32 grey images with <see cref="DomainClassifier"/>; probabilities are its 10-class softmax.</summary>
public sealed class FashionMnistExtractor(DomainClassifier net) : IFeatureExtractor
{
    public static FashionMnistExtractor LoadBuiltIn() => new(DomainClassifier.LoadBuiltIn());

    public string Name => "fmnist-classifier-128 (built-in Fashion-MNIST CNN, penultimate layer)";
    public int FeatureDim => DomainClassifier.FeatureDim;

    public (Tensor Features, Tensor? Probabilities) Extract(Tensor imagesNhwc)
    {
        if (imagesNhwc.dim() != 4 || imagesNhwc.shape[1] != 32 || imagesNhwc.shape[2] != 32 || imagesNhwc.shape[3] != 1)
            throw new ArgumentException($"the Fashion-MNIST evaluator takes 32x32 grey images [n, 32, 32, 1], got [{string.Join(", ", imagesNhwc.shape)}]");
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        // Same scaling as the training data: x / 127.5 − 1.
        var x = imagesNhwc.permute(0, 3, 1, 2).to(ScalarType.Float32) / 127.5 - 1.0;
        var features = net.Features(x);
        var probabilities = nn.functional.softmax(net.LogitsOf(features), 1);
        return (features.MoveToOuterDisposeScope(), probabilities.MoveToOuterDisposeScope());
    }

    public void Dispose() => net.Dispose();
}
