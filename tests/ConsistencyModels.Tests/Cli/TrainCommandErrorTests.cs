// `cm train`: bad ECT input fails before any work with one line in the CLI's words (flags, not library property names).
using Xunit;

namespace ConsistencyModels.Tests.Cli;

public sealed class TrainCommandErrorTests : IDisposable
{
    private readonly TempDir _tmp = new();

    public void Dispose() => _tmp.Dispose();

    /// <summary>`cm train MODE` on the fmnist32 architecture; --data does not exist, so only a check made before the data is read can give the expected line.</summary>
    private CmProcess.Result Train(string mode, params string[] extra) =>
        CmProcess.Run(["train", mode, "--preset", "fmnist32", "--data", _tmp.File("no-data"), "--output", _tmp.File("run"), .. extra]);

    /// <summary>A file standing in for a teacher: the checks under test come before any checkpoint is read.</summary>
    private string AnyTeacherFile()
    {
        var path = _tmp.File("teacher.pt");
        File.WriteAllBytes(path, [1, 2, 3]);
        return path;
    }

    private void AssertCleanFailure(CmProcess.Result r, params string[] fragments)
    {
        Assert.True(r.ExitCode != 0, $"expected a failure, got exit code 0:\n{r.All}");
        foreach (var f in fragments) Assert.Contains(f, r.All, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("   at ", r.All);
        Assert.DoesNotContain("Exception", r.All);
        Assert.DoesNotContain("`", r.All);               // library property names are mapped to flags
        Assert.False(Directory.Exists(_tmp.File("run")), "nothing may be written for a refused run");
    }

    [Fact]
    public void EctFlagsOnAnotherModeAreRefused() =>
        AssertCleanFailure(Train("ct", "-q", "4"), "-q", "ect");

    [Fact]
    public void AConsistencyModelIsRefusedAsTeacher() =>
        // cd_fmnist32 is a built-in consistency model: tuning needs a diffusion (EDM) model.
        AssertCleanFailure(Train("ect", "--teacher", "cd_fmnist32"), "--teacher", "cd_fmnist32", "EDM");

    [Fact]
    public void AQThatNeverMovesRIsRefused() =>
        AssertCleanFailure(Train("ect", "--teacher", AnyTeacherFile(), "-q", "1"), "-q", "above 1");

    [Fact]
    public void AStageLengthOfZeroIsRefused() =>
        AssertCleanFailure(Train("ect", "--teacher", AnyTeacherFile(), "--double", "0"), "--double", "positive");

    [Fact]
    public void StagesPastFloat32ResolutionAreRefused() =>
        // q 256 with a stage every step: q^(stage+1) passes 2^20 at once, so r would round to t.
        AssertCleanFailure(Train("ect", "--teacher", AnyTeacherFile(), "-q", "256", "--double", "1", "--total-training-steps", "100"),
            "-q", "--double", "float32");

    [Fact]
    public void AMissingTeacherFileIsNamed() =>
        AssertCleanFailure(Train("ect", "--teacher", _tmp.File("teacher.pt")), "teacher.pt", "does not exist");
}
