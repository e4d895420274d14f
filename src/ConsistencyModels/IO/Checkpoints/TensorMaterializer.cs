using static TorchSharp.torch;

namespace ConsistencyModels.IO.Checkpoints;

/// <summary>
/// Turns <see cref="TorchTensorRecipe"/>s into tensors once their storage is in memory, honouring storage offset,
/// size and stride exactly (the official fp16-trained checkpoints are views into two shared flat buffers).
/// </summary>
internal static class TensorMaterializer
{
    /// <summary>
    /// One tensor per view of <paramref name="storage"/> (a 1-D tensor of the storage's dtype). No result aliases
    /// another: a storage with a single view that covers it exactly is reshaped in place (no copy, so a 2 GB file
    /// is not held twice); every other view is copied into its own contiguous tensor.
    /// </summary>
    public static Tensor[] Build(Tensor storage, IReadOnlyList<TorchTensorRecipe> views, string what,
                                 Func<TorchTensorRecipe, string>? describe = null)
    {
        long storageNumel = storage.numel();
        foreach (var v in views) Validate(v, storageNumel, what);

        if (views.Count == 1 && CoversExactly(views[0], storageNumel))
            return [storage.view(views[0].Size)];

        var result = new Tensor[views.Count];
        for (int i = 0; i < views.Count; i++)
        {
            var v = views[i];
            using var view = storage.as_strided(v.Size, v.Stride, v.Offset);
            result[i] = TorchZipReader.Allocate(v.Size, storage.dtype, $"{what}: {(describe is null ? v.ToString() : describe(v))}");
            result[i].copy_(view);
        }
        return result;
    }

    /// <summary>
    /// The views of one storage in storage order when each is a compact row-major block (its elements one contiguous
    /// run of the storage) and no two overlap, so that each can be read from the file straight into its own tensor
    /// (<see cref="TorchZipReader"/>): no full-size storage in memory first. Null when some view needs the general
    /// path (<see cref="Build"/>). Every view is validated against the storage size first.
    /// </summary>
    public static List<TorchTensorRecipe>? DirectReadOrder(IReadOnlyList<TorchTensorRecipe> views, long storageNumel, string what)
    {
        foreach (var v in views) Validate(v, storageNumel, what);
        if (views.Any(v => !IsCompact(v))) return null;
        var ordered = views.OrderBy(v => v.Offset).ToList();
        long end = 0;
        foreach (var v in ordered)
        {
            long numel = TensorDtypes.Numel(v.Size, what);
            if (numel == 0) continue;
            if (v.Offset < end) return null; // overlapping (or the same) elements: build copies from one storage
            end = v.Offset + numel;
        }
        return ordered;
    }

    /// <summary>Row-major strides (size-1 dimensions may have any stride): the view's elements are one contiguous run.</summary>
    private static bool IsCompact(TorchTensorRecipe v)
    {
        long expected = 1;
        for (int d = v.Size.Length - 1; d >= 0; d--)
        {
            if (v.Size[d] != 1 && v.Stride[d] != expected) return false;
            expected *= v.Size[d];
        }
        return true;
    }

    private static bool CoversExactly(TorchTensorRecipe v, long storageNumel)
    {
        if (v.Offset != 0 || TensorDtypes.Numel(v.Size, "") != storageNumel) return false;
        long expected = 1;
        for (int d = v.Size.Length - 1; d >= 0; d--)
        {
            if (v.Size[d] != 1 && v.Stride[d] != expected) return false;
            expected *= v.Size[d];
        }
        return true;
    }

    /// <summary>Every element the view can address must lie inside the storage (as_strided would read out of bounds).</summary>
    private static void Validate(TorchTensorRecipe v, long storageNumel, string what)
    {
        long numel = TensorDtypes.Numel(v.Size, $"{what}: {v}");
        if (v.Offset < 0 || v.Stride.Any(s => s < 0))
            throw new CheckpointFormatException($"{what}: {v} has a negative offset or stride");
        if (numel == 0) return;
        long last;
        try
        {
            last = v.Offset;
            for (int d = 0; d < v.Size.Length; d++) last = checked(last + (v.Size[d] - 1) * v.Stride[d]);
        }
        catch (OverflowException)
        {
            throw new CheckpointFormatException($"{what}: {v} addresses elements beyond any storage");
        }
        if (last >= storageNumel)
            throw new CheckpointFormatException(
                $"{what}: {v} reaches element {last} but the storage holds {storageNumel} elements (corrupt checkpoint)");
    }
}
