// What the packages hold, checked on the .nupkg files themselves (they are zips): the library depends on TorchSharp and
// managed packages only and is AnyCPU; each RID package of the cm tool carries that platform's natives and no other
// platform's. This is how the win-x64 and osx-arm64 packages are checked on a Linux machine that cannot run them.
// Runs when CM_PACKAGES_DIR names a folder that `dotnet pack` wrote into (.ci/run does this); skipped otherwise.
using System.IO.Compression;
using System.Text;
using System.Xml.Linq;
using Xunit;

namespace ConsistencyModels.Tests.Packaging;

public class PackageContentsTests
{
    private static string? PackagesDir => Environment.GetEnvironmentVariable("CM_PACKAGES_DIR") is { Length: > 0 } d ? d : null;

    /// <summary>What the library package may depend on: TorchSharp and managed packages (no libtorch, no native assets, no plotting).</summary>
    private static readonly string[] LibraryDependencies = ["TorchSharp", "SkiaSharp", "System.IO.Hashing", "OnnxSharp", "Google.Protobuf"];

    private static string Package(string idDotVersionPrefix)
    {
        var dir = PackagesDir!;
        var match = Directory.GetFiles(dir, "*.nupkg")
            .Where(f => !f.EndsWith(".snupkg"))
            .Where(f => System.Text.RegularExpressions.Regex.IsMatch(Path.GetFileName(f), "^" + System.Text.RegularExpressions.Regex.Escape(idDotVersionPrefix) + @"\.\d"))
            .ToArray();
        Assert.True(match.Length == 1, $"expected one {idDotVersionPrefix}.<version>.nupkg in {dir}, found {match.Length}");
        return match[0];
    }

    private static XElement Nuspec(ZipArchive zip)
    {
        var entry = zip.Entries.Single(e => e.FullName.EndsWith(".nuspec") && !e.FullName.Contains('/'));
        using var s = entry.Open();
        return XElement.Load(s);
    }

    private static string[] Dependencies(XElement nuspec) =>
        nuspec.Descendants().Where(e => e.Name.LocalName == "dependency").Select(e => (string)e.Attribute("id")!).Distinct().Order().ToArray();

    private static byte[] Head(ZipArchiveEntry e, int n)
    {
        using var s = e.Open();
        var buffer = new byte[n];
        int got = 0, r;
        while (got < n && (r = s.Read(buffer, got, n - got)) > 0) got += r;
        return buffer[..got];
    }

    private static byte[] All(ZipArchiveEntry e)
    {
        using var s = e.Open();
        using var m = new MemoryStream();
        s.CopyTo(m);
        return m.ToArray();
    }

    internal enum Binary { Other, Elf, MachO, NativePe, ManagedPe }

    /// <summary>What kind of binary a file is, from its first bytes: ELF, Mach-O (64-bit or universal), or a PE with or without a CLR header.</summary>
    internal static Binary Kind(byte[] b)
    {
        if (b.Length >= 4 && b[0] == 0x7f && b[1] == (byte)'E' && b[2] == (byte)'L' && b[3] == (byte)'F') return Binary.Elf;
        if (b.Length >= 4 && ((b[0] == 0xcf && b[1] == 0xfa && b[2] == 0xed && b[3] == 0xfe) || (b[0] == 0xca && b[1] == 0xfe && b[2] == 0xba && b[3] == 0xbe)))
            return Binary.MachO;
        if (b.Length >= 0x40 && b[0] == (byte)'M' && b[1] == (byte)'Z')
        {
            int pe = BitConverter.ToInt32(b, 0x3c);
            if (pe + 24 > b.Length || b[pe] != (byte)'P' || b[pe + 1] != (byte)'E') return Binary.Other;
            int opt = pe + 24;
            ushort magic = BitConverter.ToUInt16(b, opt);
            int dataDirs = opt + (magic == 0x20b ? 112 : 96);
            int clr = dataDirs + 14 * 8;
            if (clr + 8 > b.Length) return Binary.Other;
            return BitConverter.ToUInt32(b, clr) != 0 ? Binary.ManagedPe : Binary.NativePe;
        }
        return Binary.Other;
    }

    /// <summary>The PE machine field (0x14c = AnyCPU for IL-only assemblies, 0x8664 x64, 0xaa64 arm64).</summary>
    private static ushort Machine(byte[] b) => BitConverter.ToUInt16(b, BitConverter.ToInt32(b, 0x3c) + 4);

    [SkippableFact]
    public void TheLibraryDependsOnTorchSharpAndManagedPackagesOnlyAndIsAnyCpu()
    {
        Skip.If(PackagesDir is null, "set CM_PACKAGES_DIR to a folder of packed .nupkg files (.ci/run does)");
        using var zip = ZipFile.OpenRead(Package("ConsistencyModels"));
        var deps = Dependencies(Nuspec(zip));
        Assert.Equal(LibraryDependencies.Order().ToArray(), deps);
        Assert.DoesNotContain(deps, d => d.StartsWith("libtorch", StringComparison.OrdinalIgnoreCase) || d.Contains("NativeAssets") || d.StartsWith("ScottPlot"));
        Assert.DoesNotContain(zip.Entries, e => e.FullName.StartsWith("runtimes/"));
        var dll = zip.Entries.Single(e => e.FullName == "lib/net10.0/ConsistencyModels.dll");
        var head = Head(dll, 4096);
        Assert.Equal(Binary.ManagedPe, Kind(head));
        Assert.Equal(0x14c, Machine(head));                   // AnyCPU: loads on x64 and arm64 alike
        foreach (var e in zip.Entries) Assert.True(Kind(Head(e, 4096)) is Binary.Other or Binary.ManagedPe, $"native file in the library package: {e.FullName}");
    }

    [SkippableFact]
    public void TheOnnxRuntimePackageIsAnyCpuAndHasNoTorch()
    {
        Skip.If(PackagesDir is null, "set CM_PACKAGES_DIR to a folder of packed .nupkg files (.ci/run does)");
        using var zip = ZipFile.OpenRead(Package("ConsistencyModels.OnnxRuntime"));
        Assert.DoesNotContain(Dependencies(Nuspec(zip)), d => d.Contains("Torch", StringComparison.OrdinalIgnoreCase));
        var head = Head(zip.Entries.Single(e => e.FullName == "lib/net10.0/ConsistencyModels.OnnxRuntime.dll"), 4096);
        Assert.Equal(0x14c, Machine(head));
    }

    private static readonly string[] AllRids = ["linux-x64", "win-x64", "osx-arm64"];
    public static TheoryData<string> Rids => new(AllRids);

    /// <summary>The natives each RID package must hold (by file name) and the binary kind they must have.</summary>
    private static (string[] Natives, Binary Kind) Expected(string rid) => rid switch
    {
        "linux-x64" => (["libtorch_cpu.so", "libtorch.so", "libc10.so", "libLibTorchSharp.so", "libSkiaSharp.so", "libHarfBuzzSharp.so", "libonnxruntime.so"], Binary.Elf),
        "win-x64" => (["torch_cpu.dll", "torch.dll", "c10.dll", "LibTorchSharp.dll", "libSkiaSharp.dll", "libHarfBuzzSharp.dll", "onnxruntime.dll"], Binary.NativePe),
        "osx-arm64" => (["libtorch_cpu.dylib", "libtorch.dylib", "libc10.dylib", "libLibTorchSharp.dylib", "libSkiaSharp.dylib", "libHarfBuzzSharp.dylib", "libonnxruntime.dylib"], Binary.MachO),
        _ => throw new ArgumentException(rid),
    };

    [SkippableTheory]
    [MemberData(nameof(Rids))]
    public void EachToolPackageCarriesItsPlatformsNativesAndNoOthers(string rid)
    {
        Skip.If(PackagesDir is null, "set CM_PACKAGES_DIR to a folder of packed .nupkg files (.ci/run does)");
        var path = Directory.GetFiles(PackagesDir!, $"ConsistencyModels.Cli.{rid}.*.nupkg").SingleOrDefault();
        Skip.If(path is null, $"ConsistencyModels.Cli.{rid} was not packed here (CmToolRuntimeIdentifiers)");
        using var zip = ZipFile.OpenRead(path);
        string root = $"tools/net10.0/{rid}/";
        var files = zip.Entries.Where(e => e.FullName.StartsWith(root) && e.Length > 0).ToDictionary(e => e.FullName[root.Length..]);
        Assert.True(files.ContainsKey("cm.dll"), $"no {root}cm.dll");
        Assert.True(files.ContainsKey("DotnetToolSettings.xml"), $"no {root}DotnetToolSettings.xml");
        var (natives, kind) = Expected(rid);
        foreach (var n in natives)
        {
            Assert.True(files.TryGetValue(n, out var e), $"{rid} package lacks {n}");
            Assert.Equal(kind, Kind(Head(e!, 4096)));
        }
        // No other platform's natives anywhere in the package (and no runtimes/<other-rid> folders).
        var foreign = zip.Entries.Where(e => e.Length > 0)
            .Select(e => (e.FullName, Kind: Kind(Head(e, 4096))))
            .Where(f => f.Kind is Binary.Elf or Binary.MachO or Binary.NativePe && f.Kind != kind)
            .Select(f => f.FullName).ToArray();
        Assert.True(foreign.Length == 0, $"{rid} package holds other platforms' natives: {string.Join(", ", foreign.Take(10))}");
        Assert.DoesNotContain(zip.Entries, e => e.FullName.Contains("/runtimes/") && !e.FullName.Contains($"/runtimes/{rid}/"));
        if (rid.StartsWith("linux"))
            Assert.True(LibTorchSharpNeedIsWeak(All(files["libLibTorchSharp.so"])), "the linux package's libLibTorchSharp.so still requires GLIBCXX_3.4.32 strictly (the ELF patch did not run)");
        else
            Assert.DoesNotContain(files.Keys, k => k.EndsWith(".so") || k.Contains(".so."));
    }

    [SkippableFact]
    public void ThePointerPackageNamesTheRidPackagesAndHoldsNoBinaries()
    {
        Skip.If(PackagesDir is null, "set CM_PACKAGES_DIR to a folder of packed .nupkg files (.ci/run does)");
        using var zip = ZipFile.OpenRead(Package("ConsistencyModels.Cli"));
        var settings = zip.Entries.Single(e => e.FullName.EndsWith("DotnetToolSettings.xml"));
        string xml = Encoding.UTF8.GetString(All(settings));
        var listed = XElement.Parse(xml.TrimStart('\uFEFF')).Descendants().Where(e => e.Name.LocalName == "RuntimeIdentifierPackage")
            .Select(e => ((string)e.Attribute("RuntimeIdentifier")!, (string)e.Attribute("Id")!)).ToArray();
        Assert.Contains(("linux-x64", "ConsistencyModels.Cli.linux-x64"), listed);
        foreach (var (rid, id) in listed)
        {
            Assert.Contains(rid, AllRids);
            Assert.True(Directory.GetFiles(PackagesDir!, $"{id}.*.nupkg").Length == 1, $"the pointer names {id}, which was not packed beside it");
        }
        Assert.DoesNotContain(zip.Entries, e => e.FullName.EndsWith(".dll") || e.FullName.EndsWith(".so") || e.FullName.EndsWith(".dylib"));
    }

    /// <summary>True when the GLIBCXX_3.4.32 version need of an ELF64 file is marked weak (Build/LibTorchSharpPatch.targets).</summary>
    internal static bool LibTorchSharpNeedIsWeak(byte[] b)
    {
        long shoff = BitConverter.ToInt64(b, 0x28);
        int shentsize = BitConverter.ToUInt16(b, 0x3A), shnum = BitConverter.ToUInt16(b, 0x3C);
        for (int i = 0; i < shnum; i++)
        {
            long sh = shoff + (long)i * shentsize;
            if (BitConverter.ToUInt32(b, (int)sh + 4) != 0x6ffffffe) continue;   // SHT_GNU_verneed
            long off = BitConverter.ToInt64(b, (int)sh + 0x18);
            int link = (int)BitConverter.ToUInt32(b, (int)sh + 0x28);
            long strOff = BitConverter.ToInt64(b, (int)(shoff + (long)link * shentsize) + 0x18);
            for (long vn = off; ; )
            {
                int cnt = BitConverter.ToUInt16(b, (int)vn + 2);
                long aux = vn + BitConverter.ToUInt32(b, (int)vn + 8);
                for (int k = 0; k < cnt; k++)
                {
                    long nameOff = strOff + BitConverter.ToUInt32(b, (int)aux + 8);
                    int end = (int)nameOff; while (b[end] != 0) end++;
                    if (Encoding.ASCII.GetString(b, (int)nameOff, end - (int)nameOff) == "GLIBCXX_3.4.32")
                        return (BitConverter.ToUInt16(b, (int)aux + 4) & 2) != 0;
                    uint next = BitConverter.ToUInt32(b, (int)aux + 12);
                    if (next == 0) break;
                    aux += next;
                }
                uint vnNext = BitConverter.ToUInt32(b, (int)vn + 12);
                if (vnNext == 0) break;
                vn += vnNext;
            }
        }
        return true;   // no such need at all: nothing to weaken
    }
}
