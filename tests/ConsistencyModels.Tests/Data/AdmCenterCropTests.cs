// Parity of the ADM centre crop with cm/image_datasets.py::center_crop_arr run on Pillow 9.4 (Debian python3-pil).
using System.Security.Cryptography;
using ConsistencyModels.Data;
using Xunit;

namespace ConsistencyModels.Tests.Data;

public class AdmCenterCropTests
{
    /// <summary>The numpy pattern the expected values were made from: ((x*y*13 + x*5 + y*3 + ch*17) * 73) % 256, HWC.</summary>
    internal static byte[] Pattern(int w, int h, int c)
    {
        var a = new byte[h * w * c];
        for (var y = 0; y < h; y++)
            for (var x = 0; x < w; x++)
                for (var ch = 0; ch < c; ch++)
                    a[(y * w + x) * c + ch] = (byte)((x * y * 13 + x * 5 + y * 3 + ch * 17) * 73 % 256);
        return a;
    }

    // Expected: PIL output bytes in hex (small crops) or the sha256 of them (large ones), printed by
    //   img = Image.fromarray(pattern, "RGB" or "L"); np.ascontiguousarray(center_crop_arr(img, size)).tobytes()
    [Theory]
    [InlineData(13, 9, 3, 3, "818f95787d8a92848962669f6a80958a9a8482a5a05986a3a08463")] // BOX 13x9->6x4, BICUBIC 4.5->4 (half to even)
    [InlineData(15, 11, 3, 5, "617ad3708962b8916a556ec7647d56603992839cb5a9825b3a93ac9db68f595db6709e7773a197bec19a7f83863dd6af724ba4845d619770498ca57e3c95ae859e774b797d7c956e455e77")] // odd BOX 15x11->7x5
    [InlineData(5, 7, 3, 8, "5cd1aa80ad86b089629bce9571aad24523fa733e899c672ddfae87f8be97f5d7af57f8bf14b6dd3e20f75228735c460dc89c75c48e67ae7750676f3540486f3e14ea247dc813d39aae8059888c65589068765d236c29503b0ee43f8cd74befb69960395ca7801ff6ce88af758f557c360ee5845da8cba46b794b11777a4185bd82dad082ba8da7350ee5672e7aa05a1f5e314b76425c9e657ec89ca89f75ce3203e23d3a8556733b4b1aee4619ed3e16ea3d17ea3704e52b00dd208dd01cf8c8")] // BICUBIC upscale
    [InlineData(20, 33, 1, 6, "7a6f749e837a666f69668e97a09e755c778e9c7f719279779f8d8b9e718082827e8a916a")] // gray ("L")
    [InlineData(300, 217, 3, 64, "sha256:4dbb3630080280674ab5e2be48f272065db79801683e4eef83b6c59d20f16af8")]
    [InlineData(97, 131, 1, 32, "sha256:15eca40229e094e19f212c7439d2a171c33c8de4c56ef981fceccd772f349ee0")]
    public void MatchesPillowBitForBit(int w, int h, int c, int size, string expected)
    {
        var crop = AdmCenterCrop.Apply(Pattern(w, h, c), h, w, c, size);

        Assert.Equal(size * size * c, crop.Length);
        if (expected.StartsWith("sha256:"))
            Assert.Equal(expected[7..], Convert.ToHexStringLower(SHA256.HashData(crop)));
        else
            Assert.Equal(expected, Convert.ToHexStringLower(crop));
    }

    [Fact]
    public void ConstantImage_StaysConstant()
    {
        const int w = 75, h = 41;
        var img = new byte[h * w * 3];
        for (var i = 0; i < img.Length; i += 3) (img[i], img[i + 1], img[i + 2]) = (200, 0, 255);
        var crop = AdmCenterCrop.Apply(img, h, w, 3, 16);
        for (var i = 0; i < crop.Length; i += 3)
            Assert.Equal((200, 0, 255), (crop[i], crop[i + 1], crop[i + 2]));
    }

    [Fact]
    public void ExactSize_IsACopy()
    {
        var img = Pattern(8, 8, 3);
        Assert.Equal(img, AdmCenterCrop.Apply(img, 8, 8, 3, 8));
    }
}
