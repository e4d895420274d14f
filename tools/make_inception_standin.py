# Writes a small TorchScript file with the calling interface of the evaluator's inception-2015-12-05.pt
# (forward(img, return_features=False, use_fp16=False, no_output_bias=False); uint8 NCHW in, resized to 299 inside;
# 2048-d pool features; a Linear `output` head whose softmax gives class probabilities), plus the outputs PyTorch
# computes for a fixed input, so the C# loader can be tested without the real (downloaded) weights.
# Run with Debian's python3-torch: /usr/bin/python3 tools/make_inception_standin.py OUT_DIR
import sys, torch
import torch.nn as nn
import torch.nn.functional as F


class Layers(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, stride=4)
        self.proj = nn.Linear(16, 2048)

    def forward(self, x):
        x = F.relu(self.conv(x))
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return F.relu(self.proj(x))


class InceptionStandIn(nn.Module):
    def __init__(self, classes: int = 8):
        super().__init__()
        self.layers = Layers()
        self.output = nn.Linear(2048, classes)

    def forward(self, img: torch.Tensor, return_features: bool = False, use_fp16: bool = False,
                no_output_bias: bool = False) -> torch.Tensor:
        x = img.to(torch.float32)
        x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
        x = (x - 128.0) / 128.0
        features = self.layers(x)
        if return_features:
            return features
        if no_output_bias:
            logits = F.linear(features, self.output.weight)
        else:
            logits = self.output(features)
        return F.softmax(logits, dim=1)


torch.manual_seed(0)
out_dir = sys.argv[1]
net = InceptionStandIn().eval()
script = torch.jit.script(net)
script.save(f"{out_dir}/inception_standin.pt")
g = torch.Generator().manual_seed(1)
img = torch.randint(0, 256, (3, 3, 40, 40), generator=g, dtype=torch.uint8)
with torch.no_grad():
    torch.save({"img": img,
                "features": script(img, True),
                "probabilities": script(img, False, False, True)},
               f"{out_dir}/inception_standin_outputs.pt")
