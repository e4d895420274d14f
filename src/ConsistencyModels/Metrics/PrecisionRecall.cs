// Improved precision and recall (Kynkäänniemi et al. 2019, §2): k-NN manifolds, k = 3 in the official evaluator.
using static TorchSharp.torch;

namespace ConsistencyModels.Metrics;

public readonly record struct PrecisionRecallResult(double Precision, double Recall);

/// <summary>
/// Each set's manifold is the union of balls around its points whose radius is the squared L2 distance to the k-th
/// nearest neighbour (entry [k] of the sorted distance row, entry [0] being the point itself). Precision is the share
/// of samples inside the reference manifold; recall the share of references inside the sample manifold. Distances are
/// computed in float64, in row blocks, so 50k × 10k needs no 50k × 10k matrix.
/// </summary>
public static class PrecisionRecall
{
    public static PrecisionRecallResult Compute(Tensor reference, Tensor samples, int k = 3, int rowBlock = 2048)
    {
        if (reference.dim() != 2 || samples.dim() != 2 || reference.shape[1] != samples.shape[1])
            throw new ArgumentException($"feature sets must be [n, d] and [m, d], got [{string.Join(", ", reference.shape)}] and [{string.Join(", ", samples.shape)}]");
        if (reference.shape[0] <= k || samples.shape[0] <= k)
            throw new ArgumentException($"precision/recall with k = {k} needs more than {k} rows in each set");
        using var scope = NewDisposeScope();
        var r = reference.to(ScalarType.Float64, CPU);
        var s = samples.to(ScalarType.Float64, CPU);
        var radiiR = KthNeighbourRadii(r, k, rowBlock);
        var radiiS = KthNeighbourRadii(s, k, rowBlock);
        return new PrecisionRecallResult(ShareInside(s, r, radiiR, rowBlock), ShareInside(r, s, radiiS, rowBlock));
    }

    /// <summary>Squared distance from each row to its k-th nearest neighbour in the same set (self excluded).</summary>
    public static Tensor KthNeighbourRadii(Tensor points, int k, int rowBlock = 2048)
    {
        var parts = new List<Tensor>();
        var norms = points.square().sum(1);
        for (long start = 0; start < points.shape[0]; start += rowBlock)
        {
            using var scope = NewDisposeScope();
            long len = Math.Min(rowBlock, points.shape[0] - start);
            var d2 = SquaredDistances(points.narrow(0, start, len), norms.narrow(0, start, len), points, norms);
            parts.Add(d2.kthvalue(k + 1, 1).values.MoveToOuterDisposeScope());
        }
        return cat(parts);
    }

    /// <summary>Share of <paramref name="queries"/> within radius of at least one of <paramref name="centres"/>.</summary>
    public static double ShareInside(Tensor queries, Tensor centres, Tensor radii, int rowBlock = 2048)
    {
        long inside = 0;
        var centreNorms = centres.square().sum(1);
        for (long start = 0; start < queries.shape[0]; start += rowBlock)
        {
            using var scope = NewDisposeScope();
            var block = queries.narrow(0, start, Math.Min(rowBlock, queries.shape[0] - start));
            var d2 = SquaredDistances(block, block.square().sum(1), centres, centreNorms);
            inside += d2.le(radii.unsqueeze(0)).any(1).sum().item<long>();
        }
        return (double)inside / queries.shape[0];
    }

    private static Tensor SquaredDistances(Tensor a, Tensor aNorms, Tensor b, Tensor bNorms) =>
        (aNorms.unsqueeze(1) - 2 * a.matmul(b.t()) + bNorms.unsqueeze(0)).clamp_min(0);
}
