// Penultimate features of the shipped Fashion-MNIST classifier for sample files and for the dataset (the FID-FMNIST inputs).
using ConsistencyModels.IO.Numpy;
using ConsistencyModels.Training.Data;
using static TorchSharp.torch;

namespace ConsistencyModels.Metrics;

public static class FashionMnistFeatures
{
    /// <summary>
    /// Features [N, 128] (float32, CPU) of uint8 NHWC images [N, 32, 32, 1] as `cm generate --npz` writes them (arr_0),
    /// scaled to [−1, 1] like the training data.
    /// </summary>
    public static Tensor OfImages(DomainClassifier net, NpyArray images, int batchSize = 500, IProgress<int>? progress = null)
    {
        var s = images.Shape;
        if (images.Dtype != NpyDtype.UInt8 || s.Length != 4 || s[1] != 32 || s[2] != 32 || s[3] != 1)
            throw new ArgumentException($"'{images.Name}' is {images.Descr} [{string.Join(", ", s)}]: the Fashion-MNIST evaluator takes uint8 " +
                                        "[N, 32, 32, 1] images (the built-in model's samples; `cm generate --npz`)");
        int n = (int)s[0], plane = 32 * 32;
        var outs = new List<Tensor>();
        using var _ = no_grad();
        for (int start = 0; start < n; start += batchSize)
        {
            int m = Math.Min(batchSize, n - start);
            using var scope = NewDisposeScope();
            var x = tensor(images.Data.AsSpan(start * plane, m * plane).ToArray(), [m, 1, 32, 32]).to(ScalarType.Float32) / 127.5 - 1.0;
            outs.Add(net.Features(x).MoveToOuterDisposeScope());
            progress?.Report(start + m);
        }
        using (var all = cat(outs)) { foreach (var o in outs) o.Dispose(); return all.clone(); }
    }

    /// <summary>Features of entries [first, first + count) of a Fashion-MNIST split (IDX, padded to 32x32).</summary>
    public static Tensor OfDataset(DomainClassifier net, ITrainingDataset data, int first = 0, int? count = null, int batchSize = 500)
    {
        int n = count ?? data.Count - first, plane = 32 * 32;
        if (first < 0 || n < 1 || first + n > data.Count) throw new ArgumentException($"entries [{first}, {first + n}) are outside the dataset (0..{data.Count - 1})");
        if (data.Channels != 1 || data.ImageSize != 32) throw new ArgumentException("the Fashion-MNIST evaluator takes 1-channel 32x32 data");
        var outs = new List<Tensor>();
        var buffer = new float[batchSize * plane];
        using var _ = no_grad();
        for (int start = 0; start < n; start += batchSize)
        {
            int m = Math.Min(batchSize, n - start);
            for (int i = 0; i < m; i++) data.Read(first + start + i, buffer.AsSpan(i * plane, plane));
            using var scope = NewDisposeScope();
            outs.Add(net.Features(tensor(buffer.AsSpan(0, m * plane).ToArray(), [m, 1, 32, 32])).MoveToOuterDisposeScope());
        }
        using (var all = cat(outs)) { foreach (var o in outs) o.Dispose(); return all.clone(); }
    }
}
