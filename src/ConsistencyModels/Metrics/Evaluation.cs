// Sample-quality evaluation as the official evaluator (evaluations/evaluator.py) runs it: FID, IS, precision/recall, plus KID.
using static TorchSharp.torch;

namespace ConsistencyModels.Metrics;

public sealed record EvaluationOptions(
    bool PrecisionRecall = true,
    int NearestK = 3,
    bool Kid = true,
    KidOptions? KidOptions = null,
    int InceptionScoreSplitSize = 5000);

/// <summary>One image set embedded: streaming statistics, the features themselves (for P/R and KID) and class probabilities.</summary>
public sealed class EmbeddedSet : IDisposable
{
    internal EmbeddedSet(FeatureStatistics statistics, Tensor features, Tensor? probabilities)
    {
        Statistics = statistics; Features = features; Probabilities = probabilities;
    }

    public FeatureStatistics Statistics { get; }
    /// <summary>[n, d] float32 on the CPU.</summary>
    public Tensor Features { get; }
    /// <summary>[n, C] float32, or null when the extractor has no classifier head.</summary>
    public Tensor? Probabilities { get; }
    public long Count => Features.shape[0];

    public void Dispose() { Statistics.Dispose(); Features.Dispose(); Probabilities?.Dispose(); }
}

public sealed record EvaluationReport(
    string FeatureExtractor,
    long Samples,
    long ReferenceImages,
    string ReferenceStatistics,
    double Fid,
    InceptionScoreResult? InceptionScore,
    PrecisionRecallResult? PrecisionRecall,
    KidResult? Kid,
    IReadOnlyList<string> Notes);

public static class Evaluation
{
    /// <summary>Embeds every image of <paramref name="source"/> in batches; progress reports images done.</summary>
    public static EmbeddedSet Embed(IFeatureExtractor extractor, ImageSource source, int batchSize = 100,
                                    IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        var statistics = new FeatureStatistics(extractor.FeatureDim);
        var features = empty([source.Count, extractor.FeatureDim], ScalarType.Float32).DetachFromDisposeScope();
        Tensor? probabilities = null;
        long done = 0;
        try
        {
            foreach (var batch in source.Batches(batchSize))
            {
                cancellationToken.ThrowIfCancellationRequested();
                using var scope = NewDisposeScope();
                using var _ = batch;
                var (f, p) = extractor.Extract(batch);
                long n = f.shape[0];
                statistics.Add(f);
                features.narrow(0, done, n).copy_(f);
                if (p is not null)
                {
                    probabilities ??= empty([source.Count, p.shape[1]], ScalarType.Float32).DetachFromDisposeScope();
                    probabilities.narrow(0, done, n).copy_(p);
                }
                done += n;
                progress?.Report(done);
            }
        }
        catch { statistics.Dispose(); features.Dispose(); probabilities?.Dispose(); throw; }
        if (done != source.Count) throw new InvalidOperationException($"{source.Description}: read {done} images, expected {source.Count}");
        return new EmbeddedSet(statistics, features, probabilities);
    }

    /// <summary>Refuses reference mu/sigma of another dimension than the extractor's features (made with another extractor).</summary>
    public static void CheckReferenceStatistics(IFeatureExtractor extractor, GaussianStatistics referenceStatistics)
    {
        if (referenceStatistics.Dimension != extractor.FeatureDim)
            throw new ArgumentException($"the reference's mu/sigma are {referenceStatistics.Dimension}-d but {extractor.Name} gives {extractor.FeatureDim}-d features: " +
                                        "they were made with another feature extractor");
    }

    /// <summary>
    /// Compares samples with a reference: FID against the reference's stored <c>mu</c>/<c>sigma</c> when given (as the
    /// official evaluator prefers), else against the reference images' statistics; IS of the samples; precision,
    /// recall and KID against the reference images when there are any.
    /// </summary>
    public static EvaluationReport Compare(IFeatureExtractor extractor, EmbeddedSet samples, EmbeddedSet? referenceImages,
                                           GaussianStatistics? referenceStatistics, EvaluationOptions? options = null)
    {
        options ??= new EvaluationOptions();
        if (referenceImages is null && referenceStatistics is null) throw new ArgumentException("a reference needs images or mu/sigma");
        var notes = new List<string>();
        using var scope = NewDisposeScope();
        using var sampleStats = samples.Statistics.ToGaussian();
        GaussianStatistics refStats;
        string refSource;
        if (referenceStatistics is not null)
        {
            CheckReferenceStatistics(extractor, referenceStatistics);
            refStats = referenceStatistics;
            refSource = "mu/sigma stored in the reference";
        }
        else
        {
            refStats = referenceImages!.Statistics.ToGaussian();
            refSource = $"{referenceImages.Count} reference images";
        }
        double fid = FrechetDistance.Compute(sampleStats, refStats);

        InceptionScoreResult? inceptionScore = samples.Probabilities is { } p ? InceptionScore.Compute(p, options.InceptionScoreSplitSize) : null;
        PrecisionRecallResult? pr = null;
        KidResult? kid = null;
        if (referenceImages is null)
            notes.Add("precision, recall and KID need reference images (arr_0); the reference has statistics only");
        else
        {
            if (options.PrecisionRecall) pr = PrecisionRecall.Compute(referenceImages.Features, samples.Features, options.NearestK);
            if (options.Kid) kid = KernelInceptionDistance.Compute(referenceImages.Features, samples.Features, options.KidOptions);
        }
        if (extractor is InceptionV3Extractor) notes.Add("sFID: not computed (the TorchScript Inception exposes pool_3 only, not mixed_6/conv)");
        if (referenceStatistics is null) refStats.Dispose();
        return new EvaluationReport(extractor.Name, samples.Count, referenceImages?.Count ?? 0, refSource, fid, inceptionScore, pr, kid, notes);
    }
}
