// AtomicFile: a write goes through a hidden temporary sibling; what a killed write leaves behind is recognised and removed.
using ConsistencyModels.IO;
using Xunit;

namespace ConsistencyModels.Tests.IO;

public sealed class AtomicFileTests
{
    [Fact]
    public void AFailedWriteLeavesNothingAndOrphansOfKilledWritesAreRemovedAlone()
    {
        using var tmp = new TempDir();
        Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(tmp.File("a.pt"), _ => throw new InvalidOperationException()));
        Assert.Empty(Directory.GetFileSystemEntries(tmp.Path));

        // What a write killed between create and rename leaves, next to files that only look alike.
        string orphan = tmp.File($".model000002.pt.{Guid.NewGuid():N}.tmp");
        string[] kept = [tmp.File("model000002.pt"), tmp.File(".hidden.tmp"), tmp.File("notes.tmp"), tmp.File($".x.{Guid.NewGuid():N}.tmp.bak")];
        foreach (var f in kept.Append(orphan)) File.WriteAllText(f, "x");
        Directory.CreateDirectory(tmp.File("sub"));
        string nested = tmp.File($"sub/.a.pt.{Guid.NewGuid():N}.tmp");
        File.WriteAllText(nested, "x");

        Assert.True(AtomicFile.IsTemporary(Path.GetFileName(orphan)));
        Assert.Equal([orphan], AtomicFile.RemoveOrphans(tmp.Path));
        Assert.False(File.Exists(orphan));
        Assert.All(kept.Append(nested), f => Assert.True(File.Exists(f), f));
        Assert.Empty(AtomicFile.RemoveOrphans(tmp.File("missing")));
    }
}
