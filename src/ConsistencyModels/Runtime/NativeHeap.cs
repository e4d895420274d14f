// The C heap's handling of large blocks (glibc mallopt): a training step allocates the same activations every step.
using System.Runtime.InteropServices;

namespace ConsistencyModels.Runtime;

public static partial class NativeHeap
{
    private const int TrimThreshold = -1;            // M_TRIM_THRESHOLD
    private const int MmapThreshold = -3;            // M_MMAP_THRESHOLD
    private const int MaxMmapThreshold = 32 << 20;   // glibc's ceiling on 64-bit (HEAP_MAX_SIZE / 2)

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int Mallopt(int parameter, int value);

    /// <summary>
    /// Keeps the C heap's freed blocks for reuse instead of handing them back to the kernel: libtorch's CPU tensors
    /// come from malloc, and glibc serves blocks above its mmap threshold (128 KB at first, raised to the size of each
    /// mmapped block freed) with fresh mmaps and returns freed memory at the heap's top, so a step can fault its
    /// activations in page by page again. With blocks up
    /// to 32 MB from the heap and no trimming, a bf16 fmnist32 training step at batch 32 ran 1.2x faster here
    /// (docs/training.md, "Speed"). The cost: the process keeps its peak heap resident after the peak. Linux with glibc
    /// only; returns whether both settings took (elsewhere, or with another C library, nothing changes).
    /// </summary>
    public static bool RetainFreedMemory()
    {
        if (!OperatingSystem.IsLinux()) return false;
        try
        {
            return Mallopt(MmapThreshold, MaxMmapThreshold) == 1 & Mallopt(TrimThreshold, int.MaxValue) == 1;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { return false; }
    }
}
