using System.IO.Compression;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace ConsistencyModels.IO.Checkpoints;

/// <summary>
/// Reads PyTorch's zip checkpoint format (torch.save since 1.6): <c>&lt;archive&gt;/data.pkl</c> holds the pickled
/// object graph, <c>&lt;archive&gt;/data/&lt;key&gt;</c> the raw bytes of each storage. The archive folder name varies, so
/// it is taken from the first entry, as PyTorch does.
/// </summary>
internal static class TorchZipReader
{
    /// <summary>The unpickled object graph with tensors in place. The caller owns the tensors.</summary>
    public static object? ReadGraph(string path, ReadLimits? limits = null)
    {
        limits ??= ReadLimits.Default;
        switch (CheckpointSniffer.Sniff(path, out var problem))
        {
            case CheckpointKind.Safetensors:
                throw new CheckpointFormatException(
                    $"{path}: this is a safetensors file, not a torch.save checkpoint: use Safetensors.Load or CheckpointFile.LoadStateDict.");
            case CheckpointKind.Other:
                throw new CheckpointFormatException(problem);
        }

        // ZipArchive reports damage (bad headers, counts, methods) lazily, as InvalidDataException, wherever it
        // happens to parse: one catch covers them all.
        try { return ReadArchive(path, limits); }
        catch (InvalidDataException e)
        {
            throw new CheckpointFormatException(
                $"{path}: starts like a zip archive but cannot be read as one ({e.Message}): the file is truncated or corrupt (an interrupted download?), not a usable PyTorch checkpoint.", e);
        }
    }

    private static object? ReadArchive(string path, ReadLimits limits)
    {
        using var zip = OpenZip(path);
        var prefix = ArchivePrefix(zip, path);
        RejectDuplicates(zip, path);
        RejectTorchScript(zip, prefix, path);
        var pickleEntry = zip.GetEntry(prefix + "data.pkl") ?? throw new CheckpointFormatException(
            $"{path}: a zip archive without '{InputText.Clip(prefix)}data.pkl', so not a torch.save checkpoint (first entries: {FirstNames(zip)}).");
        CheckByteOrder(zip, prefix, path, limits);

        var resolver = new TorchPickleResolver(path);
        var graph = PickleReader.Load(ReadAll(pickleEntry, path, limits), $"{path} ({pickleEntry.FullName})", resolver, limits);
        var recipes = ObjectGraph.CollectRecipes(graph);
        var tensors = Materialize(zip, prefix, recipes, ObjectGraph.RecipeNames(graph), path, limits);
        return ObjectGraph.ReplaceRecipes(graph, tensors);
    }

    /// <summary>
    /// Two records under one name: ZipArchive would hand out the first where torch.load takes the last, so the same
    /// file would load as different weights here and in Python. Refused rather than guessed.
    /// </summary>
    private static void RejectDuplicates(ZipArchive zip, string path)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var e in zip.Entries)
            if (!names.Add(e.FullName))
                throw new CheckpointFormatException(
                    $"{path}: record '{InputText.Clip(e.FullName)}' appears twice in the archive (torch.load would read the last copy): the file is corrupt or crafted.");
    }

    /// <summary>
    /// A deflated record costs its uncompressed size in memory however small the file is (a zip bomb); torch.save
    /// stores records uncompressed, so only repacked files have compressed ones, and those are bounded.
    /// </summary>
    private static void CheckInflatedSize(ZipArchiveEntry entry, string path, ReadLimits limits)
    {
        if (entry.CompressedLength < entry.Length && entry.Length > limits.MaxDeflatedRecordBytes)
            throw new CheckpointFormatException(
                $"{path}: record '{InputText.Clip(entry.FullName)}' is compressed and inflates from {entry.CompressedLength} to {entry.Length} bytes, " +
                $"above the limit of {limits.MaxDeflatedRecordBytes} (`MaxDeflatedRecordBytes`); torch.save never compresses: re-save the file with torch.save.");
    }

    private static ZipArchive OpenZip(string path)
    {
        var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        try
        {
            return new ZipArchive(fs, ZipArchiveMode.Read, leaveOpen: false);
        }
        catch
        {
            fs.Dispose();
            throw;
        }
    }

    private static string ArchivePrefix(ZipArchive zip, string path)
    {
        if (zip.Entries.Count == 0) throw new CheckpointFormatException($"{path}: an empty zip archive, not a PyTorch checkpoint.");
        var first = zip.Entries[0].FullName;
        int slash = first.IndexOf('/');
        if (slash <= 0)
            throw new CheckpointFormatException(
                $"{path}: a zip archive whose entries are not inside one folder (first entry '{first}'), so not a torch.save checkpoint.");
        return first[..(slash + 1)];
    }

    private static void RejectTorchScript(ZipArchive zip, string prefix, string path)
    {
        if (zip.GetEntry(prefix + "constants.pkl") is null && !zip.Entries.Any(e => e.FullName.StartsWith(prefix + "code/", StringComparison.Ordinal)))
            return;
        throw new CheckpointFormatException(
            $"{path}: this is a TorchScript archive (torch.jit.save), not a torch.save checkpoint; it holds code as well as weights. " +
            "In Python: m = torch.jit.load(path); torch.save(m.state_dict(), 'weights.pt'), then load weights.pt.");
    }

    private static void CheckByteOrder(ZipArchive zip, string prefix, string path, ReadLimits limits)
    {
        var entry = zip.GetEntry(prefix + "byteorder");
        if (entry is null) return; // written since PyTorch 2.1; older files are little-endian
        var order = System.Text.Encoding.ASCII.GetString(ReadAll(entry, path, limits)).Trim();
        if (order != "little")
            throw new CheckpointFormatException($"{path}: storages are stored '{InputText.Clip(order)}'-endian; only little-endian checkpoints are supported.");
    }

    private static byte[] ReadAll(ZipArchiveEntry entry, string path, ReadLimits limits)
    {
        CheckInflatedSize(entry, path, limits);
        if (entry.Length > Array.MaxLength)
            throw new CheckpointFormatException($"{path}: record '{entry.FullName}' is implausibly large ({entry.Length} bytes).");
        var bytes = new byte[entry.Length];
        using var s = entry.Open();
        try { s.ReadExactly(bytes); }
        catch (EndOfStreamException e) { throw new CheckpointFormatException($"{path}: record '{entry.FullName}' is truncated.", e); }
        CheckCrc(entry, Crc32.HashToUInt32(bytes), path);
        return bytes;
    }

    /// <summary>
    /// ZipArchive does not verify stored entries, but torch.load does: without this a corrupted download would load
    /// as silently wrong weights.
    /// </summary>
    private static void CheckCrc(ZipArchiveEntry entry, uint crc, string path)
    {
        if (crc != entry.Crc32)
            throw new CheckpointFormatException(
                $"{path}: record '{entry.FullName}' fails its CRC-32 check (stored {entry.Crc32:x8}, computed {crc:x8}): the file is corrupt.");
    }

    /// <summary>Appends <paramref name="stream"/>'s remaining bytes to <paramref name="crc"/>.</summary>
    private static void AppendRest(Stream stream, Crc32 crc)
    {
        var buffer = new byte[1 << 16];
        int n;
        while ((n = stream.Read(buffer)) > 0) crc.Append(buffer.AsSpan(0, n));
    }

    /// <summary>
    /// Loads each storage once and frees it before the next one: views that are compact, disjoint blocks (the usual
    /// case, also for the official flat-buffer checkpoints) are read straight into their own tensors; any others are
    /// built from the whole storage (<see cref="TensorMaterializer.Build"/>).
    /// </summary>
    private static Dictionary<TorchTensorRecipe, Tensor> Materialize(ZipArchive zip, string prefix, List<TorchTensorRecipe> recipes,
                                                                     Dictionary<TorchTensorRecipe, string> names, string path, ReadLimits limits)
    {
        var result = new Dictionary<TorchTensorRecipe, Tensor>(ReferenceEqualityComparer.Instance);
        var groups = recipes.GroupBy(r => r.Storage.Key).ToList();
        string Describe(TorchTensorRecipe v) => names.TryGetValue(v, out var n) ? $"tensor '{n}', {v}" : v.ToString();
        CheckExpansion(groups, Describe, path, limits);
        using var scope = NewDisposeScope();
        foreach (var group in groups)
        {
            var storageRef = group.First().Storage;
            var name = prefix + "data/" + storageRef.Key;
            var what = $"{path} ({InputText.Clip(name)})";
            var entry = zip.GetEntry(name) ?? throw new CheckpointFormatException($"{path}: storage record '{InputText.Clip(name)}' is missing.");
            CheckInflatedSize(entry, path, limits);
            long bytes = TensorDtypes.ByteCount([storageRef.Numel], storageRef.Dtype, what);
            if (entry.Length < bytes)
                throw new CheckpointFormatException(
                    $"{what}: holds {entry.Length} bytes but {storageRef.Numel} {storageRef.Dtype.Type} elements need {bytes} (truncated or corrupt).");

            var views = group.ToList();
            if (TensorMaterializer.DirectReadOrder(views, storageRef.Numel, what) is { } ordered)
            {
                ReadViewsDirectly(entry, ordered, storageRef.Dtype, result, what, path, Describe);
                continue;
            }
            using (var storage = Allocate([storageRef.Numel], storageRef.Dtype.Type, $"{what}: storage of {storageRef.Numel} elements"))
            {
                using (var stream = entry.Open())
                {
                    var crc = new Crc32();
                    TensorStreams.ReadInto(stream, storage, what, crc);
                    AppendRest(stream, crc);
                    CheckCrc(entry, crc.GetCurrentHashAsUInt32(), path);
                }
                var tensors = TensorMaterializer.Build(storage, views, what, Describe);
                for (int i = 0; i < views.Count; i++) result[views[i]] = tensors[i];
            }
        }
        foreach (var t in result.Values) t.MoveToOuterDisposeScope();
        return result;
    }

    /// <summary>
    /// Reads each view of one storage (compact, non-overlapping, in storage order) from the entry straight into its own
    /// tensor, skipping the bytes no view uses; the whole entry still passes through the CRC check. The peak is the
    /// tensors themselves: an official checkpoint, whose parameters are views into one flat buffer, is not held twice.
    /// </summary>
    private static void ReadViewsDirectly(ZipArchiveEntry entry, List<TorchTensorRecipe> ordered, DtypeInfo dtype,
                                          Dictionary<TorchTensorRecipe, Tensor> result, string what, string path,
                                          Func<TorchTensorRecipe, string> describe)
    {
        using var stream = entry.Open();
        var crc = new Crc32();
        var buffer = new byte[1 << 16];
        long position = 0; // elements consumed
        foreach (var v in ordered)
        {
            var t = Allocate(v.Size, dtype.Type, $"{path}: {describe(v)}");
            result[v] = t;
            long numel = t.numel();
            if (numel == 0) continue;
            for (long gap = (v.Offset - position) * dtype.ElementSize; gap > 0;)
            {
                int n = stream.Read(buffer, 0, (int)Math.Min(buffer.Length, gap));
                if (n == 0) throw new CheckpointFormatException($"{what}: the data ends early (truncated file?)");
                crc.Append(buffer.AsSpan(0, n));
                gap -= n;
            }
            TensorStreams.ReadInto(stream, t, what, crc);
            position = v.Offset + numel;
        }
        AppendRest(stream, crc);
        CheckCrc(entry, crc.GetCurrentHashAsUInt32(), path);
    }

    /// <summary>
    /// Views that repeat storage elements (stride 0, overlap) take more memory than the file holds: a 524-byte file
    /// can ask for gigabytes. What the views of each storage need beyond the storage's own bytes is summed over the
    /// file and bounded by <see cref="ReadLimits.MaxExpandedTensorBytes"/>, before anything is allocated.
    /// </summary>
    private static void CheckExpansion(List<IGrouping<string, TorchTensorRecipe>> groups, Func<TorchTensorRecipe, string> describe,
                                       string path, ReadLimits limits)
    {
        long excess = 0;
        foreach (var group in groups)
        {
            var dtype = group.First().Storage.Dtype;
            long left = TensorDtypes.ByteCount([group.First().Storage.Numel], dtype, path); // bytes the file justifies
            foreach (var v in group)
            {
                long bytes = TensorDtypes.ByteCount(v.Size, dtype, $"{path}: {describe(v)}");
                long beyond = Math.Max(0, bytes - left);
                left = Math.Max(0, left - bytes);
                if (beyond > limits.MaxExpandedTensorBytes - excess)
                    throw new CheckpointFormatException(
                        $"{path}: {describe(v)} needs {bytes} bytes, and the views of this storage need {beyond + excess} more than the file holds, " +
                        $"above the limit of {limits.MaxExpandedTensorBytes} (`MaxExpandedTensorBytes`): the checkpoint is corrupt or crafted.");
                excess += beyond;
            }
        }
    }

    /// <summary>A failed allocation (a huge tensor, too little memory) becomes one line naming the tensor, not a libtorch trace.</summary>
    internal static Tensor Allocate(long[] size, ScalarType type, string what)
    {
        try { return empty(size, type); }
        catch (Exception e) when (e is ExternalException or OutOfMemoryException)
        {
            throw new CheckpointFormatException(
                $"{what}: cannot allocate [{string.Join(", ", size)}] {type} ({e.Message.Split('\n')[0].Trim()})", e);
        }
    }

    private static string FirstNames(ZipArchive zip) =>
        string.Join(", ", zip.Entries.Take(5).Select(e => InputText.Clip(e.FullName))) + (zip.Entries.Count > 5 ? ", ..." : "");
}
