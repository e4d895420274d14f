using System.Runtime.InteropServices;
using ConsistencyModels.Runtime;
using Xunit;

namespace ConsistencyModels.Tests.Runtime;

public sealed class NativeHeapTests
{
    [Fact]
    public void RetainingFreedMemoryTakesOnLinuxWithGlibcAndIsANoOpElsewhere()
    {
        // cm train calls it before training; on glibc both mallopt settings must take, or the step speed-up of
        // docs/training.md ("Speed") silently disappears. The settings only change when memory goes back to the kernel.
        bool glibc = OperatingSystem.IsLinux() && NativeLibrary.TryLoad("libc.so.6", out var handle) && NativeLibrary.TryGetExport(handle, "gnu_get_libc_version", out _);
        Assert.Equal(glibc, NativeHeap.RetainFreedMemory());
    }
}
