// The files users download: the 12 released checkpoints (reference §2.1) and the evaluator's files (§8.1).

using ConsistencyModels.IO.Downloads;

namespace ConsistencyModels.Presets;

public static class DownloadCatalog
{
    /// <summary>The official files all live under this host; a mirror keeps the same paths.</summary>
    public const string DefaultBaseUrl = DownloadItem.OfficialBaseUrl;

    public static IReadOnlyList<DownloadItem> Checkpoints { get; } = CheckpointPresets.All
        .Select(p => new DownloadItem(p.Name, p.FileName, "consistency/" + p.FileName, DownloadKind.Checkpoint, p.Description))
        .ToArray();

    public static IReadOnlyList<DownloadItem> EvaluatorFiles { get; } =
    [
        new("inception", "inception-2015-12-05.pt", "consistency/inception/inception-2015-12-05.pt", DownloadKind.TorchScript,
            "Inception-v3 TorchScript of the official PyTorch evaluator (FID, IS)"),
        new("ref_imagenet64", "VIRTUAL_imagenet64_labeled.npz", "diffusion/jul-2021/ref_batches/imagenet/64/VIRTUAL_imagenet64_labeled.npz",
            DownloadKind.ReferenceBatch, "ImageNet-64 reference batch (statistics + 10k images)"),
        new("ref_bedroom256", "VIRTUAL_lsun_bedroom256.npz", "diffusion/jul-2021/ref_batches/lsun/bedroom/VIRTUAL_lsun_bedroom256.npz",
            DownloadKind.ReferenceBatch, "LSUN Bedroom-256 reference batch"),
        new("ref_cat256", "VIRTUAL_lsun_cat256.npz", "diffusion/jul-2021/ref_batches/lsun/cat/VIRTUAL_lsun_cat256.npz",
            DownloadKind.ReferenceBatch, "LSUN Cat-256 reference batch"),
    ];

    public static IEnumerable<DownloadItem> All => Checkpoints.Concat(EvaluatorFiles);

    /// <summary>
    /// Expands names into items: a catalog name (with or without its extension), <c>all</c> (the 12 checkpoints),
    /// <c>evaluator</c> (Inception and the reference batches). Throws listing the valid names for an unknown one.
    /// </summary>
    public static IReadOnlyList<DownloadItem> Resolve(IEnumerable<string> names)
    {
        var result = new List<DownloadItem>();
        foreach (var raw in names)
        {
            var name = raw.Trim();
            IEnumerable<DownloadItem> items = name.ToLowerInvariant() switch
            {
                "all" => Checkpoints,
                "evaluator" => EvaluatorFiles,
                _ => [TryGet(name) ?? throw new ArgumentException(
                    $"'{name}' is not a downloadable file. Known: all, evaluator, {string.Join(", ", All.Select(i => i.Name))}")],
            };
            foreach (var item in items) if (!result.Contains(item)) result.Add(item);
        }
        return result;
    }

    public static DownloadItem? TryGet(string name) =>
        All.FirstOrDefault(i => string.Equals(i.Name, name, StringComparison.OrdinalIgnoreCase)
                                || string.Equals(i.FileName, name, StringComparison.OrdinalIgnoreCase));
}
