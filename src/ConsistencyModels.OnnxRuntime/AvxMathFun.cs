// Scalar ports of log256_ps and sincos256_ps from avx_mathfun.h (Cephes polynomials, as vendored by PyTorch for
// normal_fill_16_AVX2), so that the managed randn reproduces libtorch's AVX2 Box-Muller bit for bit.
namespace ConsistencyModels.OnnxRuntime;

internal static class AvxMathFun
{
    // GCC contracts the header's separate mul/add intrinsics into FMAs (-ffp-contract=fast with -mfma): where a product
    // feeds an addition, libtorch computes one fused operation, and so must we.
    private static float MulAdd(float a, float b, float c) => MathF.FusedMultiplyAdd(a, b, c);

    public static float Log(float x)
    {
        bool invalid = x <= 0;
        x = MathF.Max(x, BitConverter.Int32BitsToSingle(0x00800000));          // smallest normal
        int bits = BitConverter.SingleToInt32Bits(x);
        int imm0 = (int)((uint)bits >> 23) - 0x7f;
        x = BitConverter.Int32BitsToSingle((bits & ~0x7f800000) | BitConverter.SingleToInt32Bits(0.5f));
        float e = imm0;
        e += 1f;
        bool below = x < 0.707106781186547524f;
        float tmp = below ? x : 0f;
        x -= 1f;
        e -= below ? 1f : 0f;
        x += tmp;
        float z = x * x;
        float y = 7.0376836292E-2f;
        y = MulAdd(y, x, -1.1514610310E-1f);
        y = MulAdd(y, x, 1.1676998740E-1f);
        y = MulAdd(y, x, -1.2420140846E-1f);
        y = MulAdd(y, x, 1.4249322787E-1f);
        y = MulAdd(y, x, -1.6668057665E-1f);
        y = MulAdd(y, x, 2.0000714765E-1f);
        y = MulAdd(y, x, -2.4999993993E-1f);
        y = MulAdd(y, x, 3.3333331174E-1f);
        y *= x;
        // GCC fuses the first product that feeds an addition (y·z here), leaving e·q1 rounded on its own.
        y = MulAdd(y, z, e * -2.12194440e-4f);
        y = MulAdd(-z, 0.5f, y);
        x += y;
        x = MulAdd(e, 0.693359375f, x);
        return invalid ? float.NaN : x;
    }

    public static (float Sin, float Cos) SinCos(float x)
    {
        uint signSin = BitConverter.SingleToUInt32Bits(x) & 0x80000000u;
        x = MathF.Abs(x);
        float y = x * 1.27323954473516f;                                       // 4/π
        int imm2 = (int)y;
        imm2 = (imm2 + 1) & ~1;
        y = imm2;
        int imm4 = imm2;
        uint swapSignSin = (uint)(imm2 & 4) << 29;
        bool polyMask = (imm2 & 2) == 0;
        x = MulAdd(y, -0.78515625f, x);
        x = MulAdd(y, -2.4187564849853515625e-4f, x);
        x = MulAdd(y, -3.77489497744594108e-8f, x);
        imm4 -= 2;
        uint signCos = (uint)(~imm4 & 4) << 29;
        signSin ^= swapSignSin;
        float z = x * x;
        float yc = 2.443315711809948E-005f;
        yc = MulAdd(yc, z, -1.388731625493765E-003f);
        yc = MulAdd(yc, z, 4.166664568298827E-002f);
        yc *= z;
        yc = MulAdd(yc, z, -(z * 0.5f));
        yc += 1f;
        float ys = -1.9515295891E-4f;
        ys = MulAdd(ys, z, 8.3321608736E-3f);
        ys = MulAdd(ys, z, -1.6666654611E-1f);
        ys *= z;
        ys = MulAdd(ys, x, x);
        float sinPart2 = polyMask ? ys : 0f, sinPart1 = polyMask ? 0f : yc;
        float restS = ys - sinPart2, restC = yc - sinPart1;
        float sin = sinPart1 + sinPart2, cos = restC + restS;
        return (BitConverter.UInt32BitsToSingle(BitConverter.SingleToUInt32Bits(sin) ^ signSin),
                BitConverter.UInt32BitsToSingle(BitConverter.SingleToUInt32Bits(cos) ^ signCos));
    }
}
