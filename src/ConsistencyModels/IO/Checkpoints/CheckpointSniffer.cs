using System.Buffers.Binary;
using System.Text;

namespace ConsistencyModels.IO.Checkpoints;

public enum CheckpointKind { TorchZip, Safetensors, Other }

/// <summary>
/// Recognises a file from its first bytes, so a wrong file (an HTML error page, a Git LFS pointer, a legacy
/// torch.save file, ...) gets an error that says what it is and what to do, instead of a parser failure.
/// </summary>
public static class CheckpointSniffer
{
    // torch.save before PyTorch 1.6 starts with PROTO 2 and LONG1 0x1950a86a20f9469cfc6c (its magic number).
    private static readonly byte[] LegacyTorchMagic = [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

    /// <summary>The kind of file at <paramref name="path"/>; for <see cref="CheckpointKind.Other"/> also why it is not readable.</summary>
    public static CheckpointKind Sniff(string path, out string problem)
    {
        problem = "";
        // Before opening: a FIFO would block the open (and a device would never end); both report length 0.
        if (InputFiles.IsEmptyOrNotRegular(path))
        {
            problem = $"{path}: {InputFiles.EmptyOrNotRegular}: not a PyTorch checkpoint or safetensors file (an interrupted download?)";
            return CheckpointKind.Other;
        }
        Span<byte> head = stackalloc byte[64];
        long length;
        using (var fs = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1))
        {
            length = fs.Length;
            head = head[..fs.ReadAtLeast(head, head.Length, throwOnEndOfStream: false)];
        }

        if (length == 0)
        {
            problem = $"{path}: the file is empty (0 bytes): not a PyTorch checkpoint or safetensors file (an interrupted download?)";
            return CheckpointKind.Other;
        }
        // Local file header, or the end record of an empty archive.
        if (head.StartsWith("PK\x03\x04"u8) || head.StartsWith("PK\x05\x06"u8)) return CheckpointKind.TorchZip;
        if (LooksLikeSafetensors(head, length)) return CheckpointKind.Safetensors;
        problem = $"{path}: {Describe(head, length)}";
        return CheckpointKind.Other;
    }

    /// <summary>An 8-byte little-endian header size that fits the file, followed by a JSON object.</summary>
    internal static bool LooksLikeSafetensors(ReadOnlySpan<byte> head, long fileLength)
    {
        if (head.Length < 9) return false;
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(head);
        return n >= 2 && n <= Safetensors.MaxHeaderBytes && (long)n <= fileLength - 8 && head[8] == (byte)'{';
    }

    private static string Describe(ReadOnlySpan<byte> head, long length)
    {
        const string NotCheckpoint = "not a PyTorch checkpoint (.pt/.pth/.bin zip) or safetensors file";
        if (head.StartsWith(LegacyTorchMagic))
            return "this is a legacy torch.save file (PyTorch < 1.6, not a zip archive), which is not supported. " +
                   "Re-save it with PyTorch >= 1.6: torch.save(torch.load(old, map_location='cpu'), new).";
        if (head.Length >= 2 && head[0] == 0x80 && head[1] is >= 2 and <= 5)
            return "this is a bare Python pickle, " + NotCheckpoint + ". Save tensors with torch.save or safetensors instead.";
        var text = Encoding.UTF8.GetString(head).TrimStart('\uFEFF', ' ', '\t', '\r', '\n');
        if (text.StartsWith("version https://git-lfs", StringComparison.Ordinal))
            return $"this is a Git LFS pointer ({length} bytes), not the checkpoint itself: fetch the real file (git lfs pull) or download it directly.";
        if (text.StartsWith('<'))
            return "this looks like an HTML/XML page (a failed, redirected or login-walled download?), " + NotCheckpoint + ".";
        if (head.StartsWith((ReadOnlySpan<byte>)[0x1f, 0x8b]))
            return "this is gzip-compressed; decompress it first.";
        if (head.StartsWith((ReadOnlySpan<byte>)[0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y']))
            return "this is a NumPy .npy array, " + NotCheckpoint + ".";
        return $"{NotCheckpoint} (it starts with bytes {Convert.ToHexString(head[..Math.Min(16, head.Length)])}).";
    }
}
