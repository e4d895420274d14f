namespace ConsistencyModels.Tests.IO.Checkpoints;

/// <summary>A temporary folder removed after the test.</summary>
internal sealed class ScratchDir : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "cm-ckpt-tests-" + Guid.NewGuid().ToString("N"));

    public ScratchDir() => Directory.CreateDirectory(Path);

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}
