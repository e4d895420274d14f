// create_ema_and_scales_fn parity (schedules.pt) plus the paper variant, progdist and the iCT curriculum.
using ConsistencyModels.Tests.IO;
using ConsistencyModels.Tests.Parity;
using ConsistencyModels.Training;
using Xunit;
using static TorchSharp.torch;

namespace ConsistencyModels.Tests.Training.Optim;

public class EmaAndScalesTests
{
    public static TheoryData<string, TargetEmaMode, ScaleMode, int, int, long> FixtureTables => new()
    {
        { "ct_imagenet", TargetEmaMode.Adaptive, ScaleMode.Progressive, 2, 200, 800_000 },
        { "ct_lsun", TargetEmaMode.Adaptive, ScaleMode.Progressive, 2, 150, 1_000_000 },
        { "fixed_progressive", TargetEmaMode.Fixed, ScaleMode.Progressive, 2, 200, 800_000 },
        { "cd_fixed", TargetEmaMode.Fixed, ScaleMode.Fixed, 40, 40, 600_000 },
    };

    [SkippableTheory]
    [MemberData(nameof(FixtureTables))]
    public void MatchesEveryRowOfTheOfficialSchedule(string table, TargetEmaMode emaMode, ScaleMode scaleMode, int s0, int s1, long totalSteps)
    {
        var f = Fixture.Open("schedules.pt");
        var config = new EmaAndScalesConfig(emaMode, 0.95, scaleMode, s0, s1, totalSteps);
        long[] steps = f[$"{table}.steps"].data<long>().ToArray();
        double[] emas = f[$"{table}.target_ema"].data<double>().ToArray();
        long[] scales = f[$"{table}.scales"].data<long>().ToArray();
        // The rows the manifest documents for this table (so the loop below cannot pass on an empty or cut table).
        using (var manifest = System.Text.Json.JsonDocument.Parse(File.ReadAllText(FixturePaths.Require("MANIFEST.json"))))
        {
            var documented = manifest.RootElement.GetProperty("files").GetProperty("schedules.pt").GetProperty("calls")[0]
                .GetProperty("table").GetProperty(table).GetProperty("steps").EnumerateArray().Select(e => e.GetInt64());
            Assert.Equal(documented, steps);
        }
        Assert.Equal(steps.Length, emas.Length);
        Assert.Equal(steps.Length, scales.Length);
        for (int i = 0; i < steps.Length; i++)
        {
            var (ema, n) = EmaAndScales.At(config, steps[i]);
            Assert.True(scales[i] == n, $"{table} step {steps[i]}: N = {n}, expected {scales[i]}");
            Assert.True(Math.Abs(ema - emas[i]) <= 1e-15 * Math.Abs(emas[i]), $"{table} step {steps[i]}: μ = {ema:R}, expected {emas[i]:R}");
        }
    }

    [Fact]
    public void ReleasedCodeStartsAtMuSquaredWhereThePaperStartsAtMu()
    {
        var released = EmaAndScalesConfig.ConsistencyTrainingImageNet64;
        var paper = released with { Variant = CtScheduleVariant.Paper };
        Assert.Equal((0.9025, 2), Round(EmaAndScales.At(released, 0)));
        Assert.Equal((0.95, 2), Round(EmaAndScales.At(paper, 0)));
        // The paper's μ at N is the released code's μ at N + 1: exp(s0·log μ0 / N) both ways.
        var (paperEma, paperN) = EmaAndScales.At(paper, 10_000);
        Assert.Equal(23, paperN);
        Assert.Equal(Math.Exp(2 * Math.Log(0.95) / 23), paperEma, 15);
        Assert.True(paperEma > EmaAndScales.At(released, 10_000).TargetEma);
    }

    [Theory]   // values from the official formula evaluated in Python (start_scales 16, 50k steps per stage)
    [InlineData(0, 16)]
    [InlineData(49_999, 16)]
    [InlineData(50_000, 8)]
    [InlineData(100_000, 4)]
    [InlineData(150_000, 2)]
    [InlineData(249_999, 2)]
    [InlineData(250_000, 1)]
    [InlineData(1_000_000, 1)]
    public void ProgressiveDistillationHalvesNPerStage(long step, int expectedScales)
    {
        var config = new EmaAndScalesConfig(TargetEmaMode.Fixed, 0.95, ScaleMode.ProgressiveDistillation, 16, 16, 1_000_000);
        Assert.Equal((1.0, expectedScales), EmaAndScales.At(config, step));
    }

    [Theory]   // iCT: K = 400k, s0 = 10, s1 = 1280 → K' = ⌊400000 / 8⌋ = 50000
    [InlineData(0, 11)]
    [InlineData(49_999, 11)]
    [InlineData(50_000, 21)]
    [InlineData(100_000, 41)]
    [InlineData(349_999, 641)]
    [InlineData(350_000, 1281)]
    [InlineData(400_000, 1281)]
    [InlineData(long.MaxValue / 2, 1281)]
    public void ImprovedCtDoublesNAndUsesNoTargetEma(long step, int expectedScales)
    {
        var config = EmaAndScalesConfig.ImprovedConsistencyTraining(400_000);
        Assert.Equal((0.0, expectedScales), EmaAndScales.At(config, step));
    }

    [Fact]
    public void RejectsCombinationsTheOfficialCodeRejects()
    {
        var config = new EmaAndScalesConfig(TargetEmaMode.Adaptive, 0.95, ScaleMode.Fixed, 40, 40, 1000);
        Assert.Throws<NotSupportedException>(() => EmaAndScales.At(config, 0));
    }

    private static (double, int) Round((double TargetEma, int Scales) v) => (Math.Round(v.TargetEma, 15), v.Scales);
}
