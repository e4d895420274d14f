// What tests need from the machine (golden fixtures, Fashion-MNIST, mpirun, chromium): absent, a test is skipped, not
// passed; under CI (CI=true), where .ci/run provides all of them, an absent one fails the test instead.
using ConsistencyModels.Tests.IO;
using Xunit;

namespace ConsistencyModels.Tests;

internal static class Requirements
{
    /// <summary>Debian's dataset-fashion-mnist (IDX gzip files).</summary>
    public const string FashionMnistDir = "/usr/share/datasets/fashion-mnist";
    public const string FashionMnistTestImages = "t10k-images-idx3-ubyte.gz", FashionMnistTrainImages = "train-images-idx3-ubyte.gz";

    private static bool OnCi => Environment.GetEnvironmentVariable("CI") == "true";

    /// <summary>
    /// Returns when <paramref name="available"/>; otherwise skips the test, which must be a [SkippableFact] or
    /// [SkippableTheory] (a plain [Fact] reports the skip as a failure), or fails it under CI.
    /// </summary>
    public static void Require(bool available, string missing)
    {
        if (available) return;
        if (OnCi) Assert.Fail($"{missing}; CI=true, where a missing prerequisite is a failure, not a skip");
        throw new SkipException(missing);
    }

    /// <summary>
    /// For a prerequisite a test can do without: whether it is there. Under CI its absence fails the test, as in
    /// <see cref="Require"/>, so CI always runs the stronger variant.
    /// </summary>
    public static bool Optional(bool available, string missing)
    {
        if (!available && OnCi) Assert.Fail($"{missing}; CI=true, where a missing prerequisite is a failure");
        return available;
    }

    /// <summary>The golden-fixture folder (<see cref="FixturePaths.Dir"/>).</summary>
    public static string FixtureDir()
    {
        Require(FixturePaths.Dir is not null, "fixtures not found (set CM_FIXTURES to the fixtures folder)");
        return FixturePaths.Dir!;
    }

    /// <summary>A Fashion-MNIST file, e.g. <see cref="FashionMnistTestImages"/>.</summary>
    public static string FashionMnist(string file)
    {
        var path = Path.Combine(FashionMnistDir, file);
        Require(File.Exists(path), FashionMnistMissing(path));
        return path;
    }

    /// <summary>A Fashion-MNIST file for a test that has a fallback without it: null when absent (fails under CI).</summary>
    public static string? OptionalFashionMnist(string file)
    {
        var path = Path.Combine(FashionMnistDir, file);
        return Optional(File.Exists(path), FashionMnistMissing(path)) ? path : null;
    }

    private static string FashionMnistMissing(string path) => $"Fashion-MNIST not found at {path} (apt-get install dataset-fashion-mnist)";

    /// <summary>The mpirun executable (OpenMPI).</summary>
    public static string MpiRun()
    {
        var path = new[] { "/usr/bin/mpirun", "/usr/local/bin/mpirun" }.FirstOrDefault(Installed);
        Require(path is not null, "mpirun not found (apt-get install openmpi-bin)");
        return path!;
    }

    /// <summary>Debian's headless Chromium and its chromedriver.</summary>
    public static (string Chromium, string Driver) Chromium()
    {
        const string Chromium = "/usr/bin/chromium", Driver = "/usr/bin/chromedriver";
        Require(Installed(Chromium) && Installed(Driver), "chromium / chromedriver not found (apt-get install chromium chromium-driver)");
        return (Chromium, Driver);
    }

    /// <summary>An existing file, or a symbolic link (e.g. Debian's /etc/alternatives) that resolves to one; File.Exists also accepts a dangling link.</summary>
    private static bool Installed(string path)
    {
        var file = new FileInfo(path);
        return file.Exists && (file.LinkTarget is null || file.ResolveLinkTarget(returnFinalTarget: true) is { Exists: true });
    }
}
