// Output paths that cannot be written are refused before any work, with one line naming the option, the path and why.
using ConsistencyModels.IO;
using Xunit;

namespace ConsistencyModels.Tests.Cli;

public sealed class OutputPathTests : IDisposable
{
    private readonly TempDir _tmp = new();

    public OutputPathTests()
    {
        File.WriteAllText(_tmp.File("plain.txt"), "a file, not a folder");
        Directory.CreateDirectory(_tmp.File("folder.png"));           // a folder where a file is expected
        Directory.CreateDirectory(_tmp.File("folder.pt"));
        Directory.CreateDirectory(_tmp.File("folder.onnx"));
    }

    public void Dispose() => _tmp.Dispose();

    [Fact]
    public void TheLibrarySaysWhyAPathCannotBeWritten()
    {
        Assert.Contains("is a folder", OutputPaths.FileProblem(_tmp.File("folder.png")));
        Assert.Contains("plain.txt is a file, not a folder", OutputPaths.FileProblem(_tmp.File("plain.txt/sub/x.png")));
        Assert.Contains("is a file, not a folder", OutputPaths.DirectoryProblem(_tmp.File("plain.txt")));
        Assert.Contains("plain.txt is a file, not a folder", OutputPaths.DirectoryProblem(_tmp.File("plain.txt/run")));
        Assert.Null(OutputPaths.FileProblem(_tmp.File("new/deeper/x.png")));       // missing folders are created
        Assert.Null(OutputPaths.FileProblem(_tmp.File("plain.txt")));              // replaced atomically
        Assert.Null(OutputPaths.DirectoryProblem(_tmp.File("new/run")));
        Assert.Null(OutputPaths.DirectoryProblem(_tmp.File("folder.pt")));
        // The permission check is access(2) itself (root included, read-only mounts too), not a guess from mode bits.
        if (OperatingSystem.IsLinux())
        {
            Assert.True(OutputPaths.AccessAllowsWriting(_tmp.Path));
            Assert.False(OutputPaths.AccessAllowsWriting(_tmp.File("missing")));
        }
    }

    [SkippableFact]
    public void AFolderThatCannotBeWrittenIsNamed()
    {
        Skip.If(!OperatingSystem.IsLinux() || Environment.UserName == "root", "root writes into read-only folders");
        var locked = _tmp.File("locked");
        Directory.CreateDirectory(locked);
        File.SetUnixFileMode(locked, UnixFileMode.UserRead | UnixFileMode.UserExecute);
        try
        {
            Assert.Contains("is not writable", OutputPaths.FileProblem(Path.Combine(locked, "x.png")));
            Assert.Contains("cannot be created", OutputPaths.DirectoryProblem(Path.Combine(locked, "run")));
        }
        finally { File.SetUnixFileMode(locked, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute); }
    }

    [Theory]
    [InlineData("--output", "generate", "--output", "{folder.png}")]
    [InlineData("--npz", "generate", "--npz", "{plain.txt}/x.npz")]
    [InlineData("--output-dir", "generate", "--output-dir", "{plain.txt}/pngs")]
    [InlineData("--output-dir", "sample", "--num-samples", "4", "--output-dir", "{plain.txt}/shards")]
    [InlineData("--output", "edit", "inpaint", "--output", "{folder.png}")]
    [InlineData("--output", "export", "onnx", "--output", "{folder.onnx}")]
    [InlineData("OUTPUT", "convert", "{plain.txt}", "{folder.pt}")]
    [InlineData("--output", "train", "edm", "--preset", "fmnist32", "--data", "{no-data}", "--output", "{plain.txt}/run")]
    [InlineData("--output", "train-classifier", "--data", "{no-data}", "--output", "{folder.pt}")]
    public void EachCommandRefusesAnOutputItCannotWriteBeforeAnyWork(string flag, params string[] args)
    {
        var r = CmProcess.Run([.. args.Select(a => a.StartsWith('{') ? _tmp.File(a[1..a.IndexOf('}')]) + a[(a.IndexOf('}') + 1)..] : a)]);
        Assert.True(r.ExitCode == 2, $"expected exit code 2:\n{r.All}");
        Assert.DoesNotContain("   at ", r.All);
        var error = Assert.Single(r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith($"error: {flag} ", error);
        Assert.Contains("cannot write there", error);
        Assert.DoesNotContain("model:", r.Stdout);          // nothing was loaded or generated
        Assert.Equal(["folder.onnx", "folder.png", "folder.pt", "plain.txt"], Directory.GetFileSystemEntries(_tmp.Path).Select(Path.GetFileName).Order());
    }
}
