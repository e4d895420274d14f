#!/usr/bin/env python3
"""Where the official-code forward spends its time (companion of GpuBench's "blocks" case): wall time per top-level
block with device syncs at block boundaries, and single ops on the 64x64-level shapes. Uses official_baseline.py."""
import statistics, sys, time
import torch as th
import torch.nn.functional as F
sys.path.insert(0, __import__("os").path.dirname(__file__))
import official_baseline as ob

dev = th.device("cuda")
model, cfg = ob.build("im64", dev)
model.convert_to_fp16()
bs = 256
x, t, y = th.randn(bs, 3, 64, 64, device=dev), th.full((bs,), 100.0, device=dev), th.randint(0, 1000, (bs,), device=dev)
names = [f"input_blocks.{i}" for i in range(len(model.input_blocks))] + ["middle_block"] + \
        [f"output_blocks.{i}" for i in range(len(model.output_blocks))]
mods = list(model.input_blocks) + [model.middle_block] + list(model.output_blocks)
stamps = []
for n, m in zip(names, mods):
    def hook(mod, inputs, output, n=n):  # must return None (a returned value replaces the block's output)
        th.cuda.synchronize(); stamps.append((n, time.perf_counter()))
    m.register_forward_hook(hook)
per = {n: [] for n in names}
with th.no_grad():
    for rep in range(4):
        stamps.clear(); th.cuda.synchronize(); t0 = time.perf_counter()
        model(x, t, y)
        last = t0
        for n, s in stamps:
            if rep: per[n].append((s - last) * 1e3)
            last = s
print("- official blocks, fp16 NCHW (ms, median of 3): " + ", ".join(f"{n} {statistics.median(v):.1f}" for n, v in per.items())
      + f"; sum {sum(statistics.median(v) for v in per.values()):.1f}")

def timed(fn):
    for _ in range(2): fn()
    out = []
    for _ in range(10):
        th.cuda.synchronize(); t0 = time.perf_counter(); fn(); th.cuda.synchronize(); out.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(out)
a = th.randn(bs, 192, 64, 64, device=dev, dtype=th.float16)
w32, b32 = th.ones(192, device=dev), th.zeros(192, device=dev)
w16, b16 = w32.half(), b32.half()
cw, cb = th.randn(192, 192, 3, 3, device=dev, dtype=th.float16) * 0.01, th.zeros(192, device=dev, dtype=th.float16)
qkv = th.randn(bs, 1024, 3, 6, 64, device=dev, dtype=th.float16)
ops = {
    "group_norm fp32 round trip": lambda: F.group_norm(a.float(), 32, w32, b32).half(),
    "group_norm fp16": lambda: F.group_norm(a, 32, w16, b16),
    "silu": lambda: F.silu(a),
    "add": lambda: a + a,
    "conv3x3 192->192": lambda: F.conv2d(a, cw, cb, padding=1),
    "sdpa 6 heads x 1024 tokens": lambda: F.scaled_dot_product_attention(*(qkv[:, :, i].transpose(1, 2) for i in range(3))),
}
with th.no_grad():
    print(f"- official ops on [{bs}, 192, 64, 64] fp16 (ms, median of 10): " + ", ".join(f"{k} {timed(f):.2f}" for k, f in ops.items()))

blk = ob.AttentionBlock(384, 64).to(dev).eval(); blk.qkv.half(); blk.proj_out.half()  # norm stays fp32 (GroupNorm32)
xa = th.randn(bs, 384, 32, 32, device=dev, dtype=th.float16)
wq, wp = th.randn(1152, 384, 1, 1, device=dev, dtype=th.float16) * 0.01, th.randn(384, 384, 1, 1, device=dev, dtype=th.float16) * 0.01
w384 = th.ones(384, device=dev, dtype=th.float16)
q_out = F.conv2d(xa, wq)
tok = q_out.view(bs, 3, 6, 64, 1024).permute(0, 4, 1, 2, 3).contiguous()
parts = {
    "whole block": lambda: blk(xa),
    "group_norm": lambda: F.group_norm(xa, 32, w384, w384),
    "qkv conv1x1": lambda: F.conv2d(xa, wq),
    "to tokens": lambda: q_out.view(bs, 3, 6, 64, 1024).permute(0, 4, 1, 2, 3).contiguous(),
    "sdpa": lambda: F.scaled_dot_product_attention(*(tok[:, :, i].transpose(1, 2) for i in range(3))),
    "proj conv1x1": lambda: F.conv2d(xa, wp),
}
with th.no_grad():
    print("- official attention block 384 ch, 32x32, fp16 (ms, median of 10): " + ", ".join(f"{k} {timed(f):.2f}" for k, f in parts.items()))
