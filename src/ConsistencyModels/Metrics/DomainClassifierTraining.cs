// Trains and tests the Fashion-MNIST evaluator network (Adam, cross-entropy, a few epochs: minutes on a CPU).
using ConsistencyModels.Data;
using static TorchSharp.torch;

namespace ConsistencyModels.Metrics;

public sealed record DomainClassifierOptions(int Epochs = 3, int BatchSize = 128, double LearningRate = 1e-3, long Seed = 0);

public static class DomainClassifierTraining
{
    /// <summary>Trains a new classifier on <paramref name="train"/>; <paramref name="progress"/> gets (step, steps, loss).</summary>
    public static DomainClassifier Train(ITrainingDataset train, DomainClassifierOptions o, IProgress<(long Step, long Steps, double Loss)>? progress = null,
                                         CancellationToken cancel = default)
    {
        Check(train);
        manual_seed(o.Seed);
        var net = new DomainClassifier();
        net.train();
        using var opt = optim.Adam(net.parameters(), o.LearningRate);
        long steps = (long)o.Epochs * train.Count / o.BatchSize;
        using var loader = new BatchLoader(train, o.BatchSize, o.Seed, randomFlip: true, startStep: 0);
        for (long step = 0; step < steps && !cancel.IsCancellationRequested; step++)
        {
            using var scope = NewDisposeScope();
            var batch = loader.Next();
            var x = tensor(batch.Images, [batch.BatchSize, 1, DomainClassifier.ImageSize, DomainClassifier.ImageSize]);
            var y = tensor(batch.Labels);
            opt.zero_grad();
            var loss = nn.functional.cross_entropy(net.call(x), y);
            loss.backward();
            opt.step();
            if (step % 20 == 0 || step == steps - 1) progress?.Report((step + 1, steps, loss.item<float>()));
        }
        net.eval();
        return net;
    }

    /// <summary>Top-1 accuracy on <paramref name="test"/>.</summary>
    public static double Accuracy(DomainClassifier net, ITrainingDataset test, int batchSize = 500)
    {
        Check(test);
        net.eval();
        using var _ = no_grad();
        long correct = 0;
        var buffer = new float[batchSize * DomainClassifier.ImageSize * DomainClassifier.ImageSize];
        var labels = new long[batchSize];
        for (int start = 0; start < test.Count; start += batchSize)
        {
            int n = Math.Min(batchSize, test.Count - start);
            int plane = DomainClassifier.ImageSize * DomainClassifier.ImageSize;
            for (int i = 0; i < n; i++) labels[i] = test.Read(start + i, buffer.AsSpan(i * plane, plane));
            using var scope = NewDisposeScope();
            var x = tensor(buffer.AsSpan(0, n * plane).ToArray(), [n, 1, DomainClassifier.ImageSize, DomainClassifier.ImageSize]);
            var predicted = net.call(x).argmax(1);
            correct += (predicted == tensor(labels.AsSpan(0, n).ToArray())).sum().item<long>();
        }
        return (double)correct / test.Count;
    }

    private static void Check(ITrainingDataset d)
    {
        if (d.Channels != 1 || d.ImageSize != DomainClassifier.ImageSize || d.NumClasses is not DomainClassifier.Classes)
            throw new ArgumentException($"the Fashion-MNIST classifier needs 1-channel 32x32 images with 10 classes " +
                                        $"(got {d.Channels} channels, {d.ImageSize} px, {(d.NumClasses is int k ? $"{k} classes" : "no labels")})");
    }
}
