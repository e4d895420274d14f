using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Xunit;
using static TorchSharp.torch;

namespace ConsistencyModels.Tests.IO.Checkpoints;

internal static class TensorAssert
{
    /// <summary>Same dtype, shape and bytes (bit-exact: distinguishes -0.0 and NaN payloads).</summary>
    public static void BitEqual(Tensor expected, Tensor actual, string what = "")
    {
        Assert.True(expected.dtype == actual.dtype, $"{what}: dtype {actual.dtype}, expected {expected.dtype}");
        Assert.True(expected.shape.SequenceEqual(actual.shape),
            $"{what}: shape [{string.Join(", ", actual.shape)}], expected [{string.Join(", ", expected.shape)}]");
        using var e = expected.contiguous();
        using var a = actual.contiguous();
        Assert.True(e.bytes.SequenceEqual(a.bytes), $"{what}: values differ");
    }

    public static void SameStateDict(IReadOnlyDictionary<string, Tensor> expected, IReadOnlyDictionary<string, Tensor> actual)
    {
        Assert.Equal(expected.Keys, actual.Keys);
        foreach (var (k, t) in expected) BitEqual(t, actual[k], k);
    }

    /// <summary>Every tensor is contiguous and owns memory no other tensor in the set touches.</summary>
    public static unsafe void NoAliasing(IEnumerable<Tensor> tensors)
    {
        var ranges = new List<(ulong Start, ulong End)>();
        foreach (var t in tensors)
        {
            Assert.True(t.is_contiguous());
            if (t.numel() == 0) continue;
            var span = t.bytes;
            ulong start = (ulong)Unsafe.AsPointer(ref MemoryMarshal.GetReference(span));
            ranges.Add((start, start + (ulong)span.Length));
        }
        ranges.Sort();
        for (int i = 1; i < ranges.Count; i++)
            Assert.True(ranges[i - 1].End <= ranges[i].Start, "two loaded tensors share memory");
    }

    public static void DisposeAll(IEnumerable<Tensor> tensors)
    {
        foreach (var t in tensors) t.Dispose();
    }
}
