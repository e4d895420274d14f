// Every top-level UNet module's output (time_embed, label_emb, input_blocks.N, middle_block, output_blocks.N, out)
// against the forward-hook outputs recorded by the official code during the s2 (σ = 1.382) consistency call, so a
// mismatch is localised to the first block that drifts instead of only showing in the final output.
using System.Text.RegularExpressions;
using Xunit;
using static TorchSharp.torch;

namespace ConsistencyModels.Tests.Parity;

public partial class BlockActivationParityTests
{
    [GeneratedRegex(@"^act\.(time_embed|label_emb|middle_block|out|input_blocks\.\d+|output_blocks\.\d+)$")]
    private static partial Regex TopLevelActivation();

    // Tolerances. The fixture README measures how much the official code itself moves when only the thread count
    // changes: ~1e-5 for one UNet call at 64 px, ~3e-5 at 256 px (summation order in oneDNN convolutions / BLAS).
    // Our libtorch build accumulates in yet another order, so we allow 1e-4 absolute, as UNetParityTests. Hidden
    // activations are larger than the output (absmax up to ~14 in the deep blocks vs ~2.5 at `out`) and float32
    // rounding error scales with magnitude, hence a relative term: 1e-5 at 64 px (as UNetParityTests) and 1e-4 at
    // 256 px, whose measured thread-to-thread spread is 3x larger. Measured here (2 threads, libtorch 2.10 CPU): worst
    // |diff| 2.4e-5 (64 px, middle_block) and 2.9e-5 (256 px, output_blocks.5), growing with depth as expected from
    // rounding, so the bounds leave a 3x margin. A real layer error (wrong weight, GroupNorm/SiLU order, skip order,
    // attention layout) moves these activations by O(0.1-10), far beyond either bound.
    [SkippableTheory]
    [InlineData("imagenet64", 1e-4, 1e-5)]
    [InlineData("lsun256", 1e-4, 1e-4)]
    public void EveryRecordedTopLevelActivationMatchesOfficial(string which, double atol, double rtol)
    {
        var f = Fixture.Open($"unet_{which}.pt");
        var model = FixtureModels.Get(which);
        using var _ = no_grad();
        using var scope = NewDisposeScope();

        var y = f.Has("y") ? f["y"] : null;
        // LSUN stores no x_in: the manifest says x_in == c_in_cm[:, None, None, None] * x_t exactly (verified upstream).
        var xIn = f.Has("s2.x_in") ? f["s2.x_in"] : f["s2.c_in_cm"].view(-1, 1, 1, 1) * f["s2.x_t"];

        var observed = new Dictionary<string, Tensor>();
        var output = model.Forward(xIn, f["s2.t_in"], y, (name, t) =>
        {
            Assert.False(observed.ContainsKey(name), $"module '{name}' reported twice");
            observed[name] = t.clone().DetachFromDisposeScope();   // the callback's tensors are disposed after the call
        });
        try
        {
            // The callback reports exactly the top-level modules of the official UNet, in forward order.
            int inputs = model.named_children().Where(c => c.name == "input_blocks").Select(c => c.module.named_children().Count()).Single();
            int outputs = model.named_children().Where(c => c.name == "output_blocks").Select(c => c.module.named_children().Count()).Single();
            var expectedNames = new List<string> { "time_embed" };
            if (y is not null) expectedNames.Add("label_emb");
            expectedNames.AddRange(Enumerable.Range(0, inputs).Select(i => $"input_blocks.{i}"));
            expectedNames.Add("middle_block");
            expectedNames.AddRange(Enumerable.Range(0, outputs).Select(i => $"output_blocks.{i}"));
            expectedNames.Add("out");
            Assert.Equal(expectedNames, observed.Keys);

            // `out` is what Forward returns.
            Assert.Equal(0.0, Close.MaxAbsDiff(observed["out"], output));

            var keys = f.Keys.Where(k => TopLevelActivation().IsMatch(k)).ToList();
            Assert.True(keys.Count >= (which == "imagenet64" ? 20 : 13), $"{which}: only {keys.Count} top-level activations in the fixture");
            foreach (var key in keys)
            {
                var name = key["act.".Length..];
                Assert.True(observed.TryGetValue(name, out var actual), $"{which}: our UNet did not report '{name}'");
                var expected = f[key];
                // Manifest: activations are batch sample 0 only, except time_embed / label_emb (full batch).
                if (name is "time_embed" or "label_emb")
                    Assert.Equal(actual.shape[0], expected.shape[0]);
                else
                {
                    Assert.Equal(1, expected.shape[0]);
                    actual = actual[..1];
                }
                Close.Assert(expected, actual, atol, rtol, $"{which} {key}");
            }
        }
        finally
        {
            foreach (var t in observed.Values) t.Dispose();
        }
    }
}
