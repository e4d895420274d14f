// loss.png / schedule.png: drawn from log.csv, real PNGs of the requested size.
using ConsistencyModels.Cli.Reporting;
using ConsistencyModels.Training;
using SkiaSharp;
using Xunit;

namespace ConsistencyModels.Tests.Training.Loop;

public class TrainingPlotsTests
{
    [Fact]
    public void WritesLossAndSchedulePngsFromTheLog()
    {
        using var tmp = new TempDir();
        string dir = tmp.File("run");
        using (var log = TrainingLog.Open(dir, 0))
            for (int k = 1; k <= 40; k++) log.Append(k, 1.0 / k, 2 + k / 4, 0.9 + k / 1000.0, 30, TimeSpan.FromSeconds(k));
        TrainingPlots.Write(dir, "ConsistencyTraining");
        foreach (var path in new[] { TrainingPlots.LossPath(dir), TrainingPlots.SchedulePath(dir) })
        {
            using var bitmap = SKBitmap.Decode(path);
            Assert.NotNull(bitmap);
            Assert.Equal((900, 500), (bitmap.Width, bitmap.Height));
            // Not a blank canvas: the curves and the axis text put dark pixels on the white background.
            int dark = 0;
            for (int y = 0; y < bitmap.Height; y += 2)
                for (int x = 0; x < bitmap.Width; x += 2)
                    if (bitmap.GetPixel(x, y).Red < 128) dark++;
            Assert.True(dark > 200, $"{path}: only {dark} dark pixels");
        }
    }

    [Fact]
    public void EdmLogsHaveNoSchedulePlot()
    {
        using var tmp = new TempDir();
        string dir = tmp.File("edm");
        using (var log = TrainingLog.Open(dir, 0)) log.Append(1, 0.5, 0, 0, 30, TimeSpan.FromSeconds(1));
        TrainingPlots.Write(dir, "Edm");
        Assert.True(File.Exists(TrainingPlots.LossPath(dir)));
        Assert.False(File.Exists(TrainingPlots.SchedulePath(dir)));
    }

    [Fact]
    public void MovingAverageIsTrailing() =>
        Assert.Equal(new[] { 1.0, 1.5, 2.5, 3.5 }, TrainingPlots.MovingAverage([1, 2, 3, 4], 2));
}
