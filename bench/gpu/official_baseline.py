#!/usr/bin/env python3
"""Official-code baseline for the GPU benchmarks of the .NET/TorchSharp Consistency Models port.

A from-spec re-creation (written from shared/reference/openai-consistency-models.md §1, §2.2, §4.1, §5.1-5.3; no
third-party source copied) of what openai/consistency_models runs in scripts/image_sample.py: the ADM UNetModel
(ResBlock with scale-shift norm and resblock_updown, AttentionBlock on the flash path with the (three, heads, d) qkv
layout -- flash-attn 0.2.8 replaced by torch SDPA, flash backend preferred --, GroupNorm32 computed in fp32,
convert_to_fp16 semantics, NCHW), KarrasDenoiser.denoise (consistency boundary-condition or EDM scalings, clamp to
[-1, 1]) and karras_sample with the onestep / multistep / heun samplers, plus image_sample.py's uint8 conversion and
per-batch .cpu().numpy().  Random weights (speed does not depend on them); state_dict keys/shapes equal the official
ones (shared/reference/keys_*.txt) and the parameter counts are asserted.  Needs only torch + numpy.
Known differences: noise comes from the global RNG (image_sample.py's "determ" generator draws num_samples-sized
tensors, "determ-indiv" one tensor per sample); case 2 (fp32) cannot run in the official code at all (flash-attn
needs fp16/bf16), it is the same architecture with fp32 SDPA under PyTorch's default TF32 settings.

  python3 official_baseline.py [--quick] [--cases 1,2,3 | names] [--json OUT.json]
  python3 official_baseline.py --device cpu --tiny --half bf16   # CPU smoke test (batch 1, 1/4 res, Heun 2 steps)
"""
import argparse, contextlib, json, math, statistics, time
import numpy as np
import torch as th
import torch.nn as nn
import torch.nn.functional as F

SIGMA_MIN, SIGMA_MAX, SIGMA_DATA, RHO = 0.002, 80.0, 0.5, 7.0
IM64 = dict(image_size=64, mc=192, nres=3, attn_res=(32, 16, 8), head_ch=64, mult=(1, 2, 3, 4),
            num_classes=1000, scale_shift=True)                     # launch.sh CD/CT ImageNet-64 flags
LSUN256 = dict(image_size=256, mc=256, nres=2, attn_res=(32, 16, 8), head_ch=64, mult=(1, 1, 2, 2, 4, 4),
               num_classes=None, scale_shift=False)                 # launch.sh Bedroom/Cat-256 flags (no scale-shift)
PARAMS = {"im64": 295_899_267, "lsun256": 526_304_771}
HALF = th.float16  # --half bf16 only for CPU smoke tests (torch CPU has no fp16 conv) or curiosity

# ----------------------------------------------------------------------------------------------- network
class GroupNorm32(nn.GroupNorm):
    def forward(self, x):
        return super().forward(x.float()).type(x.dtype)

def norm(c): return GroupNorm32(32, c)  # noqa: E704

def small(conv):  # official zero_module(); small random values instead so activations are non-trivial
    with th.no_grad():
        conv.weight.mul_(0.05); conv.bias.mul_(0.05)
    return conv

class EmbSeq(nn.Sequential):  # TimestepEmbedSequential
    def forward(self, x, emb):
        for layer in self:
            x = layer(x, emb) if isinstance(layer, ResBlock) else layer(x)
        return x

def resample(up):  # Upsample / Downsample with use_conv=False: F.interpolate(x2, nearest) / AvgPool2d(2, 2)
    return nn.Upsample(scale_factor=2, mode="nearest") if up else nn.AvgPool2d(2, 2)

class ResBlock(nn.Module):
    def __init__(self, ch, emb_ch, out_ch, scale_shift, up=False, down=False, dropout=0.0):
        super().__init__()
        self.in_layers = nn.Sequential(norm(ch), nn.SiLU(), nn.Conv2d(ch, out_ch, 3, padding=1))
        self.updown = up or down
        self.h_upd = resample(up) if self.updown else nn.Identity()
        self.x_upd = resample(up) if self.updown else nn.Identity()
        self.emb_layers = nn.Sequential(nn.SiLU(), nn.Linear(emb_ch, 2 * out_ch if scale_shift else out_ch))
        self.out_layers = nn.Sequential(norm(out_ch), nn.SiLU(), nn.Dropout(dropout),
                                        small(nn.Conv2d(out_ch, out_ch, 3, padding=1)))
        self.skip_connection = nn.Identity() if out_ch == ch else nn.Conv2d(ch, out_ch, 1)
        self.scale_shift = scale_shift

    def forward(self, x, emb):
        if self.updown:  # resample after norm+SiLU, before the in-conv, on both paths
            in_rest, in_conv = self.in_layers[:-1], self.in_layers[-1]
            h = in_conv(self.h_upd(in_rest(x)))
            x = self.x_upd(x)
        else:
            h = self.in_layers(x)
        emb_out = self.emb_layers(emb).type(h.dtype)[..., None, None]  # fp32 Linear, cast to h's dtype
        if self.scale_shift:
            scale, shift = th.chunk(emb_out, 2, dim=1)
            h = self.out_layers[0](h) * (1 + scale) + shift
            h = self.out_layers[1:](h)
        else:
            h = self.out_layers(h + emb_out)
        return self.skip_connection(x) + h

def attention(q, k, v):  # q, k, v: [B, H, S, D]; softmax scale 1/sqrt(D) as flash-attn's default
    if hasattr(F, "scaled_dot_product_attention"):
        return F.scaled_dot_product_attention(q, k, v)
    w = th.softmax((q.float() @ k.float().transpose(-1, -2)) / math.sqrt(q.shape[-1]), -1)  # torch<2 smoke tests only
    return (w @ v.float()).type(q.dtype)

class AttentionBlock(nn.Module):  # attention_type="flash" (QKVFlashAttention)
    def __init__(self, ch, head_ch):
        super().__init__()
        self.heads = ch // head_ch
        self.norm = norm(ch)
        self.qkv = nn.Conv2d(ch, 3 * ch, 1)
        self.proj_out = small(nn.Conv2d(ch, ch, 1))

    def forward(self, x):
        b, c, hh, ww = x.shape
        s = hh * ww
        qkv = self.qkv(self.norm(x)).view(b, 3 * c, s)
        # "b (three h d) s -> b s three h d"; flash-attn 0.2.8 then packs it contiguous as "(b s) three h d"
        qkv = qkv.view(b, 3, self.heads, c // self.heads, s).permute(0, 4, 1, 2, 3).contiguous()
        q, k, v = (t.transpose(1, 2) for t in qkv.unbind(2))  # [B, H, S, D] views of [B, S, H, D]
        o = attention(q, k, v).transpose(1, 2)  # "b s h d"
        h = o.permute(0, 2, 3, 1).reshape(b, c, s)  # "b s h d -> b (h d) s"
        return x + self.proj_out(h.view(b, c, hh, ww))

def timestep_embedding(t, dim, max_period=10000):  # cos half first; freqs built on the host and copied, as official
    half = dim // 2
    freqs = th.exp(-math.log(max_period) * th.arange(0, half, dtype=th.float32) / half).to(device=t.device)
    args = t[:, None].float() * freqs[None]
    return th.cat([th.cos(args), th.sin(args)], dim=-1)

class UNetModel(nn.Module):
    def __init__(self, image_size, mc, nres, attn_res, head_ch, mult, num_classes, scale_shift, dropout=0.0):
        super().__init__()
        ted, ss = 4 * mc, scale_shift
        self.mc, self.num_classes, self.dtype = mc, num_classes, th.float32
        self.time_embed = nn.Sequential(nn.Linear(mc, ted), nn.SiLU(), nn.Linear(ted, ted))
        if num_classes:
            self.label_emb = nn.Embedding(num_classes, ted)
        attn_ds = {image_size // r for r in attn_res}
        ch = input_ch = int(mult[0] * mc)
        self.input_blocks = nn.ModuleList([EmbSeq(nn.Conv2d(3, ch, 3, padding=1))])
        chans, ds = [ch], 1
        for level, m in enumerate(mult):
            for _ in range(nres):
                layers = [ResBlock(ch, ted, int(m * mc), ss, dropout=dropout)]
                ch = int(m * mc)
                if ds in attn_ds:
                    layers.append(AttentionBlock(ch, head_ch))
                self.input_blocks.append(EmbSeq(*layers)); chans.append(ch)
            if level != len(mult) - 1:
                self.input_blocks.append(EmbSeq(ResBlock(ch, ted, ch, ss, down=True, dropout=dropout)))
                chans.append(ch); ds *= 2
        self.middle_block = EmbSeq(ResBlock(ch, ted, ch, ss, dropout=dropout), AttentionBlock(ch, head_ch),
                                   ResBlock(ch, ted, ch, ss, dropout=dropout))
        self.output_blocks = nn.ModuleList()
        for level, m in list(enumerate(mult))[::-1]:
            for i in range(nres + 1):
                layers = [ResBlock(ch + chans.pop(), ted, int(m * mc), ss, dropout=dropout)]
                ch = int(m * mc)
                if ds in attn_ds:
                    layers.append(AttentionBlock(ch, head_ch))
                if level and i == nres:
                    layers.append(ResBlock(ch, ted, ch, ss, up=True, dropout=dropout)); ds //= 2
                self.output_blocks.append(EmbSeq(*layers))
        self.out = nn.Sequential(norm(ch), nn.SiLU(), small(nn.Conv2d(input_ch, 3, 3, padding=1)))

    def convert_to_fp16(self):  # only Conv weights/biases of the three block lists; everything else stays fp32
        for part in (self.input_blocks, self.middle_block, self.output_blocks):
            for m in part.modules():
                if isinstance(m, nn.Conv2d):
                    m.weight.data = m.weight.data.to(HALF)
                    if m.bias is not None:
                        m.bias.data = m.bias.data.to(HALF)
        self.dtype = HALF

    def forward(self, x, timesteps, y=None):
        emb = self.time_embed(timestep_embedding(timesteps, self.mc))
        if self.num_classes:
            emb = emb + self.label_emb(y)
        hs, h = [], x.type(self.dtype)
        for block in self.input_blocks:
            h = block(h, emb); hs.append(h)
        h = self.middle_block(h, emb)
        for block in self.output_blocks:
            h = block(th.cat([h, hs.pop()], dim=1), emb)  # current h first, skip second
        return self.out(h.type(x.dtype))

# ----------------------------------------------------------------------------------------------- denoiser + samplers
def denoise(model, x_t, sigmas, distillation, y):  # KarrasDenoiser.denoise + karras_sample's clamp
    sd = SIGMA_DATA
    if distillation:  # consistency boundary condition
        c_skip = sd ** 2 / ((sigmas - SIGMA_MIN) ** 2 + sd ** 2)
        c_out = (sigmas - SIGMA_MIN) * sd / (sigmas ** 2 + sd ** 2) ** 0.5
    else:  # EDM
        c_skip = sd ** 2 / (sigmas ** 2 + sd ** 2)
        c_out = sigmas * sd / (sigmas ** 2 + sd ** 2) ** 0.5
    c_in = 1 / (sigmas ** 2 + sd ** 2) ** 0.5
    c_skip, c_out, c_in = (c[:, None, None, None] for c in (c_skip, c_out, c_in))
    rescaled_t = 1000 * 0.25 * th.log(sigmas + 1e-44)
    return (c_out * model(c_in * x_t, rescaled_t, y) + c_skip * x_t).clamp(-1, 1)

def get_sigmas_karras(n, device):  # float32 on the host, trailing 0 appended, then moved
    ramp = th.linspace(0, 1, n)
    min_inv, max_inv = SIGMA_MIN ** (1 / RHO), SIGMA_MAX ** (1 / RHO)
    sigmas = (max_inv + ramp * (min_inv - max_inv)) ** RHO
    return th.cat([sigmas, sigmas.new_zeros([1])]).to(device)

def sample_heun(den, x, sigmas):  # s_churn 0, s_tmin 0, s_tmax inf, s_noise 1
    s_in = x.new_ones([x.shape[0]])
    for i in range(len(sigmas) - 1):
        gamma = min(0.0 / (len(sigmas) - 1), 2 ** 0.5 - 1) if 0.0 <= sigmas[i] <= float("inf") else 0.0
        eps = th.randn_like(x)  # drawn every step even though gamma == 0
        sigma_hat = sigmas[i] * (gamma + 1)
        if gamma > 0:
            x = x + eps * (sigma_hat ** 2 - sigmas[i] ** 2) ** 0.5
        d = (x - den(x, sigma_hat * s_in)) / sigma_hat
        dt = sigmas[i + 1] - sigma_hat
        if sigmas[i + 1] == 0:  # last step: Euler
            x = x + d * dt
        else:
            x_2 = x + d * dt
            d_2 = (x_2 - den(x_2, sigmas[i + 1] * s_in)) / sigmas[i + 1]
            x = x + (d + d_2) / 2 * dt
    return x

def sample_multistep(den, x, ts, steps):  # stochastic_iterative_sampler
    s_in = x.new_ones([x.shape[0]])
    t_max_rho, t_min_rho = SIGMA_MAX ** (1 / RHO), SIGMA_MIN ** (1 / RHO)
    for i in range(len(ts) - 1):
        t = (t_max_rho + ts[i] / (steps - 1) * (t_min_rho - t_max_rho)) ** RHO
        x0 = den(x, t * s_in)
        next_t = np.clip((t_max_rho + ts[i + 1] / (steps - 1) * (t_min_rho - t_max_rho)) ** RHO, SIGMA_MIN, SIGMA_MAX)
        x = x0 + th.randn_like(x) * np.sqrt(next_t ** 2 - SIGMA_MIN ** 2)
    return x

def sample_batch(model, cfg, bs, res, sampler, steps, ts, dev):  # one batch of image_sample.py's loop
    y = th.randint(0, 1000, (bs,), device=dev) if cfg["num_classes"] else None
    sigmas = get_sigmas_karras(steps, dev)
    x = th.randn(bs, 3, res, res, device=dev) * SIGMA_MAX
    if sampler == "onestep":
        x = denoise(model, x, sigmas[0] * x.new_ones([bs]), True, y)
    elif sampler == "multistep":
        x = sample_multistep(lambda a, s: denoise(model, a, s, True, y), x, ts, steps)
    else:
        x = sample_heun(lambda a, s: denoise(model, a, s, False, y), x, sigmas)
    s = ((x.clamp(-1, 1) + 1) * 127.5).clamp(0, 255).to(th.uint8).permute(0, 2, 3, 1).contiguous()
    gathered = th.zeros_like(s); gathered.copy_(s)  # dist.all_gather with world size 1
    imgs = gathered.cpu().numpy()
    labels = y.cpu().numpy() if y is not None else None
    return imgs, labels

# ----------------------------------------------------------------------------------------------- harness
CASES = {  # id: (name, preset, fp16, sampler, batch, steps, ts)
    1: ("im64_1step_fp16", "im64", True, "onestep", 256, 40, None),
    2: ("im64_1step_fp32", "im64", False, "onestep", 256, 40, None),
    3: ("im64_2step_fp16", "im64", True, "multistep", 256, 40, (0, 22, 39)),
    4: ("im64_heun40_fp16", "im64", True, "heun", 64, 40, None),
    5: ("lsun256_1step_fp16", "lsun256", True, "onestep", 32, 40, None),
}

def timed(fn, warm, reps, dev):  # wall time per call with device syncs around it, in ms
    sync = th.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    for _ in range(warm):
        fn()
    out = []
    for _ in range(reps):
        sync(); t0 = time.perf_counter(); fn(); sync()
        out.append((time.perf_counter() - t0) * 1e3)
    return out

def matmul_tflops(dtype, dev, n, iters):
    a, b = th.randn(n, n, device=dev, dtype=dtype), th.randn(n, n, device=dev, dtype=dtype)
    c = th.empty(n, n, device=dev, dtype=dtype)
    ms = timed(lambda: [th.matmul(a, b, out=c) for _ in range(iters)], 1, 3, dev)
    return 2 * n ** 3 * iters / (statistics.median(ms) / 1e3) / 1e12

def build(preset, dev):
    cfg = IM64 if preset == "im64" else LSUN256
    th.manual_seed(0)
    ctx = dev if hasattr(th.device, "__enter__") else contextlib.nullcontext()  # init directly on the device
    with ctx:
        model = UNetModel(**cfg)
    model = model.to(dev).eval()
    n = sum(p.numel() for p in model.parameters())
    assert n == PARAMS[preset], f"{preset}: {n:,} params, expected {PARAMS[preset]:,}"
    print(f"built {preset}: {n:,} params (matches official)", flush=True)
    return model, cfg

def main():
    global HALF
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions (Heun: 1 warm-up + 1 rep)")
    ap.add_argument("--cases", default="1,2,3,4,5", help="ids 1-5 or names, comma-separated")
    ap.add_argument("--json", help="write results to this file")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--tiny", action="store_true", help="smoke test: batch 1, 1/4 resolution, Heun 2 steps, 1 rep")
    ap.add_argument("--reps", type=int, help="override the number of timed repetitions")
    ap.add_argument("--half", choices=("fp16", "bf16"), default="fp16", help="the official code uses fp16")
    ap.add_argument("--cudnn-benchmark", action="store_true", help="not set by the official code; off by default")
    args = ap.parse_args()
    dev, HALF = th.device(args.device), (th.float16 if args.half == "fp16" else th.bfloat16)
    names = {v[0]: k for k, v in CASES.items()}
    sel = {int(c) if c.strip().isdigit() else names[c.strip()] for c in args.cases.split(",") if c.strip()}
    th.backends.cudnn.benchmark = args.cudnn_benchmark
    info = dict(torch=th.__version__, device=str(dev), half=args.half, quick=args.quick, tiny=args.tiny,
                gpu=th.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu")
    try:
        info["tf32"] = dict(cudnn=th.backends.cudnn.allow_tf32, matmul=th.backends.cuda.matmul.allow_tf32)
    except Exception as e:  # noqa: BLE001 - informational only
        info["tf32"] = repr(e)
    n, it = (512, 2) if args.tiny else (8192, 20)
    for dt in ("bfloat16", "float16"):
        try:
            info[f"matmul_{dt}_{n}_tflops"] = round(matmul_tflops(getattr(th, dt), dev, n, it), 1)
        except RuntimeError as e:
            info[f"matmul_{dt}_{n}_tflops"] = repr(e)[:80]
    print(json.dumps(info), flush=True)
    try:  # prefer the flash kernel, as the official code (fp32 falls through to mem-efficient)
        from torch.nn.attention import SDPBackend as K, sdpa_kernel
        sdpa = lambda: sdpa_kernel([K.FLASH_ATTENTION, K.EFFICIENT_ATTENTION, K.MATH])  # noqa: E731
    except ImportError:
        sdpa = contextlib.nullcontext
    results, model, preset_built = [], None, None
    # the fp32 case runs first; the same weights are then converted in place (image_sample.py converts after loading)
    for cid in sorted(sel, key=lambda c: (CASES[c][1], CASES[c][2], c)):
        name, preset, fp16, sampler, bs, steps, ts = CASES[cid]
        name = name.replace("fp16", args.half)
        if preset != preset_built:
            model = None
            if dev.type == "cuda":
                th.cuda.empty_cache()
            model, cfg = build(preset, dev)
            preset_built = preset
        if fp16 and model.dtype == th.float32:
            model.convert_to_fp16()
        res = cfg["image_size"] // 4 if args.tiny else cfg["image_size"]
        if args.tiny:
            bs, steps = 1, (2 if sampler == "heun" else steps)
        slow = sampler == "heun"
        warm, reps = (1, 1) if args.tiny else ((1 if slow else 2, 1 if slow else 5) if args.quick
                                               else (2, 3 if slow else 10))
        reps = args.reps or reps
        nfe = {"onestep": 1, "multistep": 2, "heun": 2 * steps - 1}[sampler]
        print(f"[{cid}] {name}: batch {bs}, {res}px, {nfe} NFE, warm-up {warm}, reps {reps}", flush=True)
        last = {}
        with th.no_grad(), sdpa():
            ms = timed(lambda: last.update(o=sample_batch(model, cfg, bs, res, sampler, steps, ts, dev)), warm, reps,
                       dev)
        imgs = last["o"][0]
        assert imgs.shape == (bs, res, res, 3) and imgs.dtype == np.uint8, imgs.shape
        med = statistics.median(ms)
        r = dict(case=cid, name=name, batch=bs, nfe=nfe, median_ms=med, min_ms=min(ms), max_ms=max(ms),
                 images_per_s=bs / (med / 1e3), reps=reps, pixel_mean=float(imgs.mean()))
        if dev.type == "cuda":
            r["peak_mem_gib"] = round(th.cuda.max_memory_allocated() / 2 ** 30, 2)
        print(f"    median {med:.1f} ms  min {min(ms):.1f}  max {max(ms):.1f}  {r['images_per_s']:.1f} img/s  "
              f"pixel mean {r['pixel_mean']:.1f}", flush=True)
        results.append(r)
    results.sort(key=lambda r: r["case"])
    print(f"\n{info['gpu']} | torch {th.__version__}\n"
          f"{'case':<22}{'batch':>6}{'NFE':>5}{'median ms':>11}{'min':>10}{'max':>10}{'img/s':>10}")
    for r in results:
        print(f"{r['name']:<22}{r['batch']:>6}{r['nfe']:>5}{r['median_ms']:>11.1f}{r['min_ms']:>10.1f}"
              f"{r['max_ms']:>10.1f}{r['images_per_s']:>10.1f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"info": info, "results": results}, f, indent=1)

if __name__ == "__main__":
    main()
