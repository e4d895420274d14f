// log.csv on resume: rows after the resumed step go, and elapsed time goes on from the resumed row.
using System.Globalization;
using ConsistencyModels.Training;
using Xunit;

namespace ConsistencyModels.Tests.Training.Loop;

public class TrainingLogTests
{
    private static double[] Elapsed(string dir) => File.ReadLines(TrainingLog.PathIn(dir)).Skip(1)
        .Select(l => double.Parse(l.Split(',')[5], CultureInfo.InvariantCulture)).ToArray();

    [Fact]
    public void ResumeDropsLaterRowsAndContinuesTheClock()
    {
        using var tmp = new TempDir();
        using (var log = TrainingLog.Open(tmp.Path, 0))
            for (int step = 10; step <= 30; step += 10) log.Append(step, 1.0 / step, 2, 0.9, 30, TimeSpan.FromSeconds(step * 2));
        // Interrupted after step 30; the newest checkpoint is step 20.
        using (var log = TrainingLog.Open(tmp.Path, 20))
        {
            Assert.Equal(TimeSpan.FromSeconds(40), log.ElapsedBefore);
            log.Append(30, 0.03, 2, 0.9, 30, TimeSpan.FromSeconds(15));
        }
        Assert.Equal(new long[] { 10, 20, 30 }, TrainingLog.Read(tmp.Path).Select(r => r.Step));
        Assert.Equal(new[] { 20.0, 40.0, 55.0 }, Elapsed(tmp.Path));
    }
}
