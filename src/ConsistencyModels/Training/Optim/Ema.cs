// Exponential moving average of parameters — port of cm/nn.py::update_ema (used for the online EMAs and the target network).
using TorchSharp;
using static TorchSharp.torch;

namespace ConsistencyModels.Training;

public static class Ema
{
    /// <summary>
    /// The decay of NVlabs/edm's EMA with a half-life in images and a ramp-up (training/training_loop.py):
    /// β = 0.5^(batch / max(min(halfLife, imagesSeen·rampup), 1e-8)). <paramref name="imagesSeen"/> counts the images
    /// before this step's batch, so the first update copies the weights; without a ramp-up (null) the half-life is fixed.
    /// </summary>
    public static double HalfLifeBeta(long batchSize, long imagesSeen, double halfLifeImages, double? rampupRatio)
    {
        double halfLife = rampupRatio is double ratio ? Math.Min(halfLifeImages, imagesSeen * ratio) : halfLifeImages;
        return Math.Pow(0.5, batchSize / Math.Max(halfLife, 1e-8));
    }

    /// <summary>
    /// In place, for each pair: target = rate·target + (1 − rate)·source, computed as
    /// <c>targ.detach().mul_(rate).add_(src, alpha=1 - rate)</c> so float32 rounding matches the official code.
    /// </summary>
    public static void Update(IReadOnlyList<Tensor> targetParams, IReadOnlyList<Tensor> sourceParams, double rate)
    {
        if (targetParams.Count != sourceParams.Count)
            throw new ArgumentException($"EMA needs matching parameter lists ({targetParams.Count} targets, {sourceParams.Count} sources)");
        using var noGrad = no_grad();
        for (int i = 0; i < targetParams.Count; i++)
        {
            if (!targetParams[i].shape.SequenceEqual(sourceParams[i].shape))
                throw new ArgumentException($"EMA parameter {i}: shape [{string.Join(",", targetParams[i].shape)}] vs [{string.Join(",", sourceParams[i].shape)}]");
            using var target = targetParams[i].detach(); // shares storage: the update lands in the parameter
            target.mul_(rate).add_(sourceParams[i], alpha: 1 - rate);
        }
    }

    /// <summary>Updates every parameter of <paramref name="target"/> towards the same-named parameter of <paramref name="source"/>.</summary>
    public static void Update(nn.Module target, nn.Module source, double rate)
    {
        var sources = source.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter);
        var targets = target.named_parameters().ToList();
        if (targets.Count != sources.Count)
            throw new ArgumentException($"EMA needs modules with the same parameters ({targets.Count} vs {sources.Count})");
        Update(
            targets.Select(p => (Tensor)p.parameter).ToList(),
            targets.Select(p => sources.TryGetValue(p.name, out var s) ? s
                : throw new ArgumentException($"EMA source has no parameter '{p.name}'")).ToList(),
            rate);
    }
}
