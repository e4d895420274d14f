// One downloadable file: what the downloader needs to fetch, verify and cache it.
namespace ConsistencyModels.IO.Downloads;

public enum DownloadKind { Checkpoint, TorchScript, ReferenceBatch, TorchWeights }

/// <summary>A downloadable file: its catalog name, the file name in the cache, and its path under the base URL.</summary>
public sealed record DownloadItem(string Name, string FileName, string RelativeUrl, DownloadKind Kind, string Description)
{
    /// <summary>The host of the official consistency-model and evaluator files.</summary>
    public const string OfficialBaseUrl = "https://openaipublic.blob.core.windows.net";

    public string Url(string? baseUrl = null) => (baseUrl ?? OfficialBaseUrl).TrimEnd('/') + "/" + RelativeUrl;
}
