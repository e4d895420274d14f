// The run's curves as PNGs, redrawn from log.csv at every save: loss.png (raw and smoothed) and, for CD/CT,
// schedule.png (N(k) and the target EMA μ(k), reference §6.3).
using ConsistencyModels.Training;
using ScottPlot;

namespace ConsistencyModels.Cli.Reporting;

internal static class TrainingPlots
{
    public static string LossPath(string dir) => Path.Combine(dir, "loss.png");
    public static string SchedulePath(string dir) => Path.Combine(dir, "schedule.png");

    /// <summary>Draws loss.png (and schedule.png when the log has N(k) &gt; 0) in <paramref name="dir"/> from its log.csv.</summary>
    public static void Write(string dir, string title)
    {
        if (!File.Exists(TrainingLog.PathIn(dir))) return;
        var rows = TrainingLog.Read(dir);
        if (rows.Count == 0) return;
        double[] steps = rows.Select(r => (double)r.Step).ToArray();
        WriteLoss(LossPath(dir), title, steps, rows.Select(r => r.Loss).ToArray());
        if (rows.Any(r => r.Scales > 0))
            WriteSchedule(SchedulePath(dir), title, steps, rows.Select(r => (double)r.Scales).ToArray(), rows.Select(r => r.TargetEma).ToArray());
    }

    public static void WriteLoss(string path, string title, double[] steps, double[] loss)
    {
        var plot = new Plot();
        var raw = plot.Add.ScatterLine(steps, loss);
        raw.LegendText = "loss (per log interval)";
        raw.Color = Colors.SteelBlue.WithAlpha(0.35);
        var smooth = plot.Add.ScatterLine(steps, MovingAverage(loss, Math.Max(1, loss.Length / 50)));
        smooth.LegendText = "moving average";
        smooth.Color = Colors.Navy;
        smooth.LineWidth = 2;
        plot.Title($"{title}: training loss");
        plot.XLabel("step");
        plot.YLabel("loss");
        plot.ShowLegend(Alignment.UpperRight);
        Save(plot, path);
    }

    public static void WriteSchedule(string path, string title, double[] steps, double[] scales, double[] targetEma)
    {
        var plot = new Plot();
        var n = plot.Add.ScatterLine(steps, scales);
        n.LegendText = "N(k) (discretisation steps)";
        n.Color = Colors.DarkGreen;
        n.LineWidth = 2;
        var mu = plot.Add.ScatterLine(steps, targetEma);
        mu.LegendText = "μ(k) (target EMA, right axis)";
        mu.Color = Colors.DarkOrange;
        mu.LineWidth = 2;
        mu.Axes.YAxis = plot.Axes.Right;
        plot.Axes.Right.Label.Text = "μ(k)";
        plot.Title($"{title}: N(k) and μ(k)");
        plot.XLabel("step");
        plot.YLabel("N(k)");
        plot.ShowLegend(Alignment.LowerRight);
        Save(plot, path);
    }

    private static void Save(Plot plot, string path)
    {
        // Atomic like the checkpoints: a reader never sees half a PNG.
        var tmp = path + ".tmp.png";
        plot.SavePng(tmp, 900, 500);
        File.Move(tmp, path, overwrite: true);
    }

    /// <summary>Trailing moving average over <paramref name="window"/> points (shorter at the start).</summary>
    public static double[] MovingAverage(double[] v, int window)
    {
        var result = new double[v.Length];
        double sum = 0;
        for (int i = 0; i < v.Length; i++)
        {
            sum += v[i];
            if (i >= window) sum -= v[i - window];
            result[i] = sum / Math.Min(i + 1, window);
        }
        return result;
    }
}
