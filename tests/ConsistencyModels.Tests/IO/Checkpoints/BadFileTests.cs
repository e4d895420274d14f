using System.IO.Compression;
using System.Text;
using ConsistencyModels.IO.Checkpoints;
using Xunit;
using static TorchSharp.torch;

namespace ConsistencyModels.Tests.IO.Checkpoints;

/// <summary>Files that are not checkpoints must fail with a message that names the file and says what it is.</summary>
public class BadFileTests
{
    public static TheoryData<string, byte[], string> NotCheckpoints() => new()
    {
        { "empty", [], "empty (0 bytes)" },
        { "html", Encoding.UTF8.GetBytes("\n<!DOCTYPE html><html><body>404 Not Found</body></html>"), "HTML" },
        { "lfs", Encoding.UTF8.GetBytes("version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 1234\n"), "Git LFS pointer" },
        { "legacy", [0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e], "legacy torch.save" },
        { "pickle", [0x80, 0x04, 0x4e, 0x2e], "bare Python pickle" },
        { "gzip", [0x1f, 0x8b, 0x08, 0x00, 0x00], "gzip" },
        { "garbage", Enumerable.Range(0, 100).Select(i => (byte)(i * 37 + 11)).ToArray(), "not a PyTorch checkpoint" },
    };

    [Theory]
    [MemberData(nameof(NotCheckpoints))]
    public void Non_checkpoints_are_described(string name, byte[] content, string expected)
    {
        using var dir = new TempDir();
        var path = dir.File(name + ".pt");
        File.WriteAllBytes(path, content);
        foreach (var load in new Action[] { () => CheckpointFile.LoadStateDict(path), () => TorchCheckpoint.LoadStateDict(path) })
        {
            var e = Assert.Throws<CheckpointFormatException>(load);
            Assert.Contains(expected, e.Message);
            Assert.Contains(path, e.Message);
        }
    }

    [Fact]
    public void Truncated_checkpoints_are_reported_as_such()
    {
        using var dir = new TempDir();
        var path = dir.File("full.pt");
        using var t = arange(0, 10000, dtype: ScalarType.Float32);
        TorchCheckpoint.Save(path, [new("w", t)]);
        var bytes = File.ReadAllBytes(path);
        var cut = dir.File("cut.pt");
        File.WriteAllBytes(cut, bytes[..(bytes.Length / 2)]);
        var e = Assert.Throws<CheckpointFormatException>(() => CheckpointFile.LoadStateDict(cut));
        Assert.Contains("truncated or corrupt", e.Message);
        Assert.Contains(cut, e.Message);
    }

    [Fact]
    public void Corrupted_storage_bytes_fail_the_crc_check()
    {
        using var dir = new TempDir();
        var path = dir.File("ok.pt");
        using var t = arange(0, 1000, dtype: ScalarType.Float32);
        TorchCheckpoint.Save(path, [new("w", t)]);
        var bytes = File.ReadAllBytes(path);
        // The storage holds 0, 1, 2, ...: find the float 500 and flip one bit of it.
        int at = bytes.AsSpan().IndexOf(BitConverter.GetBytes(500f));
        bytes[at] ^= 1;
        var bad = dir.File("bad.pt");
        File.WriteAllBytes(bad, bytes);
        var e = Assert.Throws<CheckpointFormatException>(() => TorchCheckpoint.LoadStateDict(bad));
        Assert.Contains("CRC-32", e.Message);
        Assert.Contains("archive/data/0", e.Message);
    }

    [Fact]
    public void Other_zip_archives_are_not_mistaken_for_checkpoints()
    {
        using var dir = new TempDir();
        var npz = dir.File("arrays.npz");
        using (var zip = ZipFile.Open(npz, ZipArchiveMode.Create))
            using (var s = zip.CreateEntry("arr_0.npy").Open()) s.Write([0x93, (byte)'N']);
        Assert.Contains("not inside one folder", Assert.Throws<CheckpointFormatException>(() => CheckpointFile.LoadStateDict(npz)).Message);

        var other = dir.File("other.zip");
        using (var zip = ZipFile.Open(other, ZipArchiveMode.Create))
            using (var s = zip.CreateEntry("folder/readme.txt").Open()) s.Write("hi"u8);
        Assert.Contains("without 'folder/data.pkl'", Assert.Throws<CheckpointFormatException>(() => TorchCheckpoint.LoadStateDict(other)).Message);
    }

    [Fact]
    public void TorchScript_archives_get_advice()
    {
        using var dir = new TempDir();
        var path = dir.File("scripted.pt");
        TorchZipBuilder.Write(path, [0x80, 0x02, 0x7d, 0x2e], extra: [("archive/constants.pkl", [0x80, 0x02, 0x29, 0x2e]), ("archive/code/__torch__.py", "x"u8.ToArray())]);
        var e = Assert.Throws<CheckpointFormatException>(() => CheckpointFile.LoadStateDict(path));
        Assert.Contains("TorchScript", e.Message);
        Assert.Contains("state_dict()", e.Message);
    }

    [Fact]
    public void Safetensors_given_to_the_torch_reader_points_to_the_right_api()
    {
        using var dir = new TempDir();
        var path = dir.File("w.safetensors");
        using var t = ones(1);
        Safetensors.Save(path, [new("w", t)]);
        Assert.Contains("Safetensors.Load", Assert.Throws<CheckpointFormatException>(() => TorchCheckpoint.LoadTensors(path)).Message);
    }

    [Fact]
    public void A_checkpoint_that_is_not_a_dict_is_explained()
    {
        using var dir = new TempDir();
        var path = dir.File("list.pt");
        TorchZipBuilder.Write(path, [0x80, 0x02, (byte)']', (byte)'.']);
        Assert.Contains("holds a list, not a dict", Assert.Throws<CheckpointFormatException>(() => TorchCheckpoint.ReadObject(path)).Message);
    }

    [Fact]
    public void Missing_files_throw_FileNotFound()
    {
        Assert.Throws<FileNotFoundException>(() => CheckpointFile.LoadStateDict("/nonexistent/model.pt"));
        Assert.ThrowsAny<IOException>(() => TorchCheckpoint.LoadStateDict("/nonexistent/model.pt"));
    }
}
