namespace ConsistencyModels.IO.Checkpoints;

/// <summary>
/// A Python tuple for <see cref="TorchCheckpoint.SaveObject"/>, e.g. RAdam's <c>betas</c>:
/// <c>new PickleTuple(0.9, 0.999)</c>. (A C# array is written as a tuple too, the way the reader returns tuples.)
/// </summary>
public sealed record PickleTuple(params object?[] Items)
{
    public override string ToString() =>
        "(" + string.Join(", ", Items.Select(i => i?.ToString() ?? "None")) + (Items.Length == 1 ? ",)" : ")");
}
