// Streams uint8 NHWC image batches from sample npz files (one file or a folder of shards) or from a training dataset.
using ConsistencyModels.IO.Numpy;
using ConsistencyModels.Data;
using static TorchSharp.torch;

namespace ConsistencyModels.Metrics;

/// <summary>A finite stream of uint8 image batches [n, H, W, C] with its total count and image shape known up front.</summary>
public sealed record ImageSource(string Description, long Count, int Height, int Width, int Channels, Func<int, IEnumerable<Tensor>> Batches)
{
    /// <summary>
    /// Images in <c>arr_0</c> of an npz (our <c>--npz</c> files, <c>cm sample</c> shards, official reference batches), or of
    /// every <c>*.npz</c> in a folder in name order. Only one file is in memory at a time. Null when no file holds
    /// images (e.g. a reference npz with only <c>mu</c>/<c>sigma</c>).
    /// </summary>
    public static ImageSource? FromNpz(string path, long? limit = null)
    {
        string[] files = Directory.Exists(path)
            ? Directory.GetFiles(path, "*.npz").Order(StringComparer.Ordinal).ToArray()
            : File.Exists(path) ? [path] : throw new FileNotFoundException($"no npz file or folder at {path}", path);
        if (files.Length == 0) throw new FileNotFoundException($"{path} holds no .npz files", path);
        var counts = new long[files.Length];
        long[]? first = null;
        for (int i = 0; i < files.Length; i++)
        {
            var header = Npz.ReadHeaders(files[i]);
            if (!header.TryGetValue("arr_0", out var shape)) return null;
            string what = $"arr_0 is {shape.Dtype.ToString().ToLowerInvariant()} [{string.Join(", ", shape.Shape)}]";
            if (shape.Dtype != NpyDtype.UInt8)
                throw new EvaluationInputException(files[i], $"{what}; images must be uint8 [N, H, W, C] with values 0..255 (convert float images with round(x * 255))");
            if (shape.Shape.Length != 4)
                throw new EvaluationInputException(files[i], $"{what}; images must be uint8 [N, H, W, C]" +
                                                             (shape.Shape.Length == 3 ? " (grey images need their channel axis: [N, H, W, 1])" : ""));
            first ??= shape.Shape;
            if (!shape.Shape.AsSpan(1).SequenceEqual(first.AsSpan(1)))
                throw new EvaluationInputException(files[i], $"images are {string.Join("x", shape.Shape[1..])}, those of {files[0]} {string.Join("x", first[1..])}");
            counts[i] = shape.Shape[0];
        }
        long total = Math.Min(counts.Sum(), limit ?? long.MaxValue);
        string description = files.Length == 1 ? files[0] : $"{path} ({files.Length} shards)";
        return new ImageSource(description, total, (int)first![1], (int)first[2], (int)first[3], batchSize => Read(files, total, batchSize));
    }

    /// <summary>The fewest images whose features have a covariance (FID, precision/recall and KID need it).</summary>
    public const long MinimumCount = 2;

    /// <summary>This source, or an <see cref="EvaluationInputException"/> naming it when it holds fewer than <see cref="MinimumCount"/> images.</summary>
    public ImageSource RequireScorable() => Count >= MinimumCount ? this
        : throw new EvaluationInputException(Description, $"holds {Count} image(s); scoring needs at least {MinimumCount} (statistics need a covariance)");

    private static IEnumerable<Tensor> Read(string[] files, long total, int batchSize)
    {
        long done = 0;
        foreach (var file in files)
        {
            if (done >= total) yield break;
            using var images = Npz.Read(file)["arr_0"].ToTensor();
            for (long start = 0; start < images.shape[0] && done < total; start += batchSize)
            {
                long n = Math.Min(Math.Min(batchSize, images.shape[0] - start), total - done);
                done += n;
                yield return images.narrow(0, start, n).clone();
            }
        }
    }

    /// <summary>Entries [first, first + count) of a dataset (IDX, image folder, npz) as uint8, at the dataset's size.</summary>
    public static ImageSource FromDataset(ITrainingDataset data, int first = 0, int? count = null)
    {
        int n = count ?? data.Count - first;
        if (first < 0 || n < 1 || first + n > data.Count) throw new ArgumentException($"entries [{first}, {first + n}) are outside the dataset (0..{data.Count - 1})");
        return new ImageSource($"{data.Describe(first)}.. ({n} images)", n, data.ImageSize, data.ImageSize, data.Channels,
                               batchSize => ReadDataset(data, first, n, batchSize));
    }

    private static IEnumerable<Tensor> ReadDataset(ITrainingDataset data, int first, int n, int batchSize)
    {
        int c = data.Channels, size = data.ImageSize, plane = c * size * size;
        var buffer = new float[batchSize * plane];
        for (int start = 0; start < n; start += batchSize)
        {
            int m = Math.Min(batchSize, n - start);
            for (int i = 0; i < m; i++) data.Read(first + start + i, buffer.AsSpan(i * plane, plane));
            using var scope = NewDisposeScope();
            // Datasets give x / 127.5 − 1 of uint8 pixels: rounding recovers the bytes exactly.
            var x = tensor(buffer.AsSpan(0, m * plane).ToArray(), [m, c, size, size]);
            yield return ((x + 1) * 127.5).round().clamp(0, 255).to(ScalarType.Byte).permute(0, 2, 3, 1).contiguous().MoveToOuterDisposeScope();
        }
    }
}
