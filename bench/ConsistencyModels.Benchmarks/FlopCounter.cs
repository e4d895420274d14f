// Counts the multiply-add FLOPs (2 per MAC) of one UNet forward from its shapes: every Conv2d and Linear, and the
// two attention matmuls (q·kᵀ and a·v). Elementwise work (norms, activations) is not counted.
using ConsistencyModels.Nn;
using static TorchSharp.torch;

namespace ConsistencyModels.Benchmarks;

internal static class FlopCounter
{
    public static double UNetForward(ModelConfig c, int batch)
    {
        double flops = 0;
        int mc = c.NumChannels, emb = 4 * mc, size = c.ImageSize;
        var mult = c.ResolvedChannelMult;
        var attn = c.AttentionDownsampleFactors;
        double Conv(int cin, int cout, int k, int res) => 2.0 * cin * cout * k * k * res * res;
        double Res(int cin, int cout, int res, int resOut) =>
            Conv(cin, cout, 3, resOut) + Conv(cout, cout, 3, resOut) + 2.0 * emb * (c.UseScaleShiftNorm ? 2 * cout : cout) + (cin != cout ? Conv(cin, cout, 1, resOut) : 0);
        double Attn(int ch, int res) { double s = (double)res * res; return Conv(ch, 3 * ch, 1, res) + Conv(ch, ch, 1, res) + 2 * 2.0 * s * s * ch; }

        flops += 2.0 * mc * emb + 2.0 * emb * emb;                 // time_embed
        int ch = mult[0] * mc, ds = 1;
        flops += Conv(c.InChannels, ch, 3, size);
        var skips = new Stack<int>([ch]);
        for (int level = 0; level < mult.Count; level++)
        {
            for (int i = 0; i < c.NumResBlocks; i++)
            {
                int res = size / ds;
                flops += Res(ch, mult[level] * mc, res, res);
                ch = mult[level] * mc;
                if (attn.Contains(ds)) flops += Attn(ch, res);
                skips.Push(ch);
            }
            if (level != mult.Count - 1)
            {
                int res = size / ds;
                flops += c.ResblockUpdown ? Res(ch, ch, res, res / 2) : Conv(ch, ch, 3, res / 2);
                skips.Push(ch);
                ds *= 2;
            }
        }
        flops += 2 * Res(ch, ch, size / ds, size / ds) + Attn(ch, size / ds);
        for (int level = mult.Count - 1; level >= 0; level--)
        {
            for (int i = 0; i <= c.NumResBlocks; i++)
            {
                int res = size / ds, ich = skips.Pop();
                flops += Res(ch + ich, mc * mult[level], res, res);
                ch = mc * mult[level];
                if (attn.Contains(ds)) flops += Attn(ch, res);
                if (level > 0 && i == c.NumResBlocks)
                {
                    flops += c.ResblockUpdown ? Res(ch, ch, res, res * 2) : Conv(ch, ch, 3, res * 2);
                    ds /= 2;
                }
            }
        }
        flops += Conv(mult[0] * mc, c.ResolvedOutChannels, 3, size);
        return flops * batch;
    }
}
