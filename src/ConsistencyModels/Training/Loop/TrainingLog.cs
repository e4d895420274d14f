// The run's CSV record (log.csv): one row per log interval. On resume the rows after the resumed step are dropped and
// elapsed_seconds goes on from the resumed row, so it counts the run's training time across interruptions.
using System.Globalization;

namespace ConsistencyModels.Training;

public sealed class TrainingLog : IDisposable
{
    public const string Header = "step,loss,num_scales,target_ema,images_per_second,elapsed_seconds";
    private readonly StreamWriter _w;
    private readonly TimeSpan _before;

    private TrainingLog(StreamWriter w, TimeSpan before) => (_w, _before) = (w, before);

    /// <summary>Training time recorded before this process resumed the run (zero for a new run).</summary>
    public TimeSpan ElapsedBefore => _before;

    public static string PathIn(string dir) => Path.Combine(dir, "log.csv");

    public static TrainingLog Open(string dir, long fromStep)
    {
        Directory.CreateDirectory(dir);
        var path = PathIn(dir);
        var keep = new List<string> { Header };
        if (File.Exists(path))
            keep.AddRange(File.ReadLines(path).Skip(1).Where(l =>
                long.TryParse(l.Split(',')[0], NumberStyles.None, CultureInfo.InvariantCulture, out long s) && s <= fromStep));
        File.WriteAllLines(path, keep);
        var last = keep.Count > 1 ? keep[^1].Split(',') : null;
        var before = last is { Length: >= 6 } && double.TryParse(last[5], NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds)
            ? TimeSpan.FromSeconds(seconds) : TimeSpan.Zero;
        return new TrainingLog(new StreamWriter(path, append: true) { AutoFlush = true }, before);
    }

    public void Append(long step, double loss, int scales, double targetEma, double imagesPerSecond, TimeSpan elapsed) =>
        _w.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{step},{loss:R},{scales},{targetEma:R},{imagesPerSecond:F2},{(elapsed + _before).TotalSeconds:F1}"));

    /// <summary>Reads the rows back (for plots): step, loss, N, μ.</summary>
    public static List<(long Step, double Loss, int Scales, double TargetEma)> Read(string dir) =>
        File.ReadLines(PathIn(dir)).Skip(1).Select(l => l.Split(',')).Where(p => p.Length >= 4)
            .Select(p => (long.Parse(p[0], CultureInfo.InvariantCulture), double.Parse(p[1], CultureInfo.InvariantCulture),
                          int.Parse(p[2], CultureInfo.InvariantCulture), double.Parse(p[3], CultureInfo.InvariantCulture))).ToList();

    public void Dispose() => _w.Dispose();
}
