// Minimal benchmark harness: warm-up, N timed repetitions, median/min/max, the peak resident memory of each case
// (VmHWM reset through /proc/self/clear_refs before the case), and what disturbed the timed repetitions: minor page
// faults and involuntary context switches per repetition (getrusage), the two things that made the same kernel 10-40x
// slower in some processes on a two-core VM.
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace ConsistencyModels.Benchmarks;

internal sealed record Measurement(string Name, double MedianMs, double MinMs, double MaxMs, int Repetitions, long PeakRssMb,
                                   double? Flops = null, double? Items = null, string ItemUnit = "")
{
    public double? GflopPerSecond => Flops is double f ? f / (MedianMs / 1000) / 1e9 : null;
    public double? ItemsPerSecond => Items is double n ? n / (MedianMs / 1000) : null;
}

internal static class Harness
{
    public static Measurement Run(string name, Action action, int warmup, int repetitions, double? flops = null, double? items = null, string unit = "")
    {
        ResetPeakRss();
        for (int i = 0; i < warmup; i++) action();
        var times = new double[repetitions];
        var before = Disturbance.Now();
        for (int i = 0; i < repetitions; i++)
        {
            var sw = Stopwatch.StartNew();
            action();
            times[i] = sw.Elapsed.TotalMilliseconds;
        }
        return Summarise(name, times, PeakRssMb(), flops, items, unit, Disturbance.PerRepetition(before, repetitions));
    }

    /// <summary>
    /// A and B measured alternately, one repetition each in turn, so that load from other processes and the CPU's clock
    /// changes fall on both alike: the ratio of the medians is the A/B number. The peak RSS is the pair's.
    /// </summary>
    public static (Measurement A, Measurement B) RunInterleaved(string nameA, Action a, string nameB, Action b, int warmup, int repetitions,
                                                                double? flops = null, double? items = null, string unit = "")
    {
        var m = RunInterleaved([(nameA, a), (nameB, b)], warmup, repetitions, flops, items, unit);
        return (m[0], m[1]);
    }

    /// <summary>
    /// Several cases measured in turn, one repetition each per round, the round's order rotated so that no case always
    /// runs on the caches another left; the ratio of two medians is their A/B number. The peak RSS is the group's, and
    /// so are the page faults and preemptions (averaged over cases and rounds, the same on each case's line).
    /// </summary>
    public static Measurement[] RunInterleaved(IReadOnlyList<(string Name, Action Action)> cases, int warmup, int repetitions,
                                               double? flops = null, double? items = null, string unit = "")
    {
        ResetPeakRss();
        for (int i = 0; i < warmup; i++) foreach (var c in cases) c.Action();
        var times = cases.Select(_ => new double[repetitions]).ToArray();
        var before = Disturbance.Now();
        for (int i = 0; i < repetitions; i++)
            for (int k = 0; k < cases.Count; k++)
            {
                int j = (i + k) % cases.Count;
                var sw = Stopwatch.StartNew();
                cases[j].Action();
                times[j][i] = sw.Elapsed.TotalMilliseconds;
            }
        long rss = PeakRssMb();
        var disturbance = Disturbance.PerRepetition(before, repetitions * cases.Count);   // the group's, per case and round
        return [.. cases.Select((c, j) => Summarise(c.Name, times[j], rss, flops, items, unit, disturbance))];
    }

    private static Measurement Summarise(string name, double[] times, long rss, double? flops, double? items, string unit,
                                         (double Faults, double Preemptions)? disturbance)
    {
        Array.Sort(times);
        int n = times.Length;
        double median = n % 2 == 1 ? times[n / 2] : (times[n / 2 - 1] + times[n / 2]) / 2;
        var m = new Measurement(name, median, times[0], times[^1], n, rss, flops, items, unit);
        Console.Error.WriteLine($"  {name}: median {median:F1} ms (min {times[0]:F1}, max {times[^1]:F1}, n={n}), peak RSS {rss} MB" +
                                (m.GflopPerSecond is double g ? $", {g:F1} GFLOP/s" : "") +
                                (disturbance is { } d ? $", per repetition {d.Faults:F0} page faults, {d.Preemptions:F1} preemptions" : ""));
        return m;
    }

    public static void ResetPeakRss()
    {
        GC.Collect();
        try { File.WriteAllText("/proc/self/clear_refs", "5"); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    public static long PeakRssMb()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith("VmHWM:")) return long.Parse(line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[1]) / 1024;   // "VmHWM:\t12345678 kB": tab, no space, from 10 GB
        return -1;
    }
}

/// <summary>
/// The process's minor page faults and involuntary context switches (all threads: getrusage(RUSAGE_SELF)). A case
/// whose repetitions fault in fresh pages, or whose OpenMP threads lose their core to another runnable thread, times
/// that and not its kernel; these counts say which it was. Null where getrusage is not at hand (not Linux).
/// </summary>
internal static class Disturbance
{
    [DllImport("libc", EntryPoint = "getrusage")]
    private static extern int GetRusage(int who, [Out] long[] usage);

    public static (long Faults, long Preemptions)? Now()
    {
        if (!OperatingSystem.IsLinux() || !Environment.Is64BitProcess) return null;
        var u = new long[18];   // struct rusage on 64-bit Linux: two timevals, then 14 longs
        try { if (GetRusage(0, u) != 0) return null; }
        catch (DllNotFoundException) { return null; }
        catch (EntryPointNotFoundException) { return null; }
        return (u[8], u[17]);   // ru_minflt, ru_nivcsw
    }

    public static (double Faults, double Preemptions)? PerRepetition((long Faults, long Preemptions)? before, int repetitions)
    {
        if (before is not { } b || Now() is not { } a) return null;
        return ((a.Faults - b.Faults) / (double)repetitions, (a.Preemptions - b.Preemptions) / (double)repetitions);
    }
}
