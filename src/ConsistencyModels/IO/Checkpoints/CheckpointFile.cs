using static TorchSharp.torch;

namespace ConsistencyModels.IO.Checkpoints;

/// <summary>Loads model weights from either format, chosen by the file's content rather than its extension.</summary>
public static class CheckpointFile
{
    /// <summary>
    /// The state dict in <paramref name="path"/>: a torch.save zip (see <see cref="TorchCheckpoint.LoadStateDict"/>)
    /// or a safetensors file. Anything else (legacy torch.save, TorchScript, HTML pages, LFS pointers, truncated
    /// downloads) fails with a <see cref="CheckpointFormatException"/> that says what the file is.
    /// </summary>
    public static OrderedDictionary<string, Tensor> LoadStateDict(string path, ReadLimits? limits = null)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"checkpoint '{path}' does not exist", path);
        return CheckpointSniffer.Sniff(path, out var problem) switch
        {
            CheckpointKind.TorchZip => TorchCheckpoint.LoadStateDict(path, limits: limits),
            CheckpointKind.Safetensors => StateDictLocator.StripWrapperPrefixes(Safetensors.Load(path)),
            _ => throw new CheckpointFormatException(problem),
        };
    }
}
