namespace ConsistencyModels.IO.Checkpoints;

/// <summary>The storage class named in a persistent id (e.g. <c>torch.FloatStorage</c>): it fixes the dtype.</summary>
internal sealed record TorchStorageType(string Name, DtypeInfo Dtype);

/// <summary>One record <c>&lt;archive&gt;/data/&lt;Key&gt;</c>: <paramref name="Numel"/> elements of one dtype.</summary>
internal sealed record TorchStorageRef(string Key, DtypeInfo Dtype, long Numel);

/// <summary>
/// What <c>_rebuild_tensor_v2</c> asked for: a strided view into a storage. Unpickling only records these; the tensors
/// are built afterwards, one storage at a time (see <see cref="TensorMaterializer"/>). A class, not a record: the same
/// pickled tensor referenced twice (memo) must stay one object.
/// </summary>
internal sealed class TorchTensorRecipe(TorchStorageRef storage, long offset, long[] size, long[] stride)
{
    public TorchStorageRef Storage { get; } = storage;
    public long Offset { get; } = offset;
    public long[] Size { get; } = size;
    public long[] Stride { get; } = stride;

    public override string ToString() =>
        $"{Storage.Dtype.Type} view of storage '{InputText.Clip(Storage.Key)}' (offset {Offset}, size [{string.Join(", ", Size)}], stride [{string.Join(", ", Stride)}])";
}
