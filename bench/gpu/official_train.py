#!/usr/bin/env python3
"""Official-code training-step baseline (issue 17): one optimisation step of EDM, CD and CT on the ImageNet-64 UNet at
batch 32, as openai/consistency_models' train_util.py / cm_train.py run it, re-created from the spec
(shared/reference/openai-consistency-models.md: karras_diffusion training_losses and consistency_losses, fp16_util's
MixedPrecisionTrainer, update_ema; no third-party source copied). The network is official_baseline.py's UNetModel
(official keys and parameter count, asserted there).

fp16 (the official setting, use_fp16=True): torso convolutions in float16, fp32 master parameters flattened into two
groups (ndim <= 1 and the rest), loss scaled by 2^lg before backward, gradients copied into the master groups, their
norm checked, unscaled, RAdam on the master groups, copied back; three EMAs (0.999, 0.9999, 0.9999432189950708) and,
for CD/CT, the target network as one more EMA of the master groups. fp32: the same without conversion, per-tensor
master parameters. CD's teacher is a float16 copy evaluated twice per step (Heun), no grad. Left out: the official _compute_norms also
reads each parameter's norm (one .item() per master tensor, per-tensor in fp32), so the official fp32 step here is, if
anything, slightly faster than the real one.

  python3 official_train.py [--modes edm,cd,ct] [--precisions fp16,fp32] [--json OUT] [--save-teacher FILE]
  /usr/bin/python3 official_train.py --device cpu --tiny       # CPU smoke test (batch 2, 16 px)
"""
import argparse, copy, json, math, statistics, time
import torch as th
import official_baseline as ob

SIGMA_MIN, SIGMA_MAX, SIGMA_DATA, RHO = ob.SIGMA_MIN, ob.SIGMA_MAX, ob.SIGMA_DATA, ob.RHO
EMA_RATES = (0.999, 0.9999, 0.9999432189950708)

def scalings(sigma, boundary):
    sd = SIGMA_DATA
    if boundary:
        c_skip = sd ** 2 / ((sigma - SIGMA_MIN) ** 2 + sd ** 2)
        c_out = (sigma - SIGMA_MIN) * sd / (sigma ** 2 + sd ** 2) ** 0.5
    else:
        c_skip = sd ** 2 / (sigma ** 2 + sd ** 2)
        c_out = sigma * sd / (sigma ** 2 + sd ** 2) ** 0.5
    c_in = 1 / (sigma ** 2 + sd ** 2) ** 0.5
    return [c[:, None, None, None] for c in (c_skip, c_out, c_in)]

def denoise(model, x_t, sigma, boundary, y):  # KarrasDenoiser.denoise (no clamp in training)
    c_skip, c_out, c_in = scalings(sigma, boundary)
    return c_out * model(c_in * x_t, 1000 * 0.25 * th.log(sigma + 1e-44), y) + c_skip * x_t

def karras_sigma(i, n):
    return (SIGMA_MAX ** (1 / RHO) + i / (n - 1) * (SIGMA_MIN ** (1 / RHO) - SIGMA_MAX ** (1 / RHO))) ** RHO

class Master:  # fp16_util.MixedPrecisionTrainer, reduced to what a step costs
    def __init__(self, model, fp16, lr):
        self.model, self.fp16, self.lg, self.skipped = model, fp16, 20.0, 0
        params = list(model.parameters())
        if fp16:
            self.groups = [[p for p in params if p.ndim <= 1], [p for p in params if p.ndim > 1]]
            self.master = [th.nn.Parameter(th.cat([p.detach().float().reshape(-1) for p in g])) for g in self.groups]
        else:
            self.groups, self.master = None, params
        self.opt = th.optim.RAdam(self.master, lr=lr, weight_decay=0.0)

    def backward(self, loss):
        (loss * (2 ** self.lg if self.fp16 else 1.0)).backward()

    def step(self):
        if self.fp16:
            for g, m in zip(self.groups, self.master):
                m.grad = th.cat([p.grad.float().reshape(-1) for p in g])
        norm = math.sqrt(sum(th.norm(m.grad, p=2, dtype=th.float32).item() ** 2 for m in self.master))  # _compute_norms
        if self.fp16:
            if not math.isfinite(norm):
                self.lg -= 1; self.skipped += 1; self.model.zero_grad(set_to_none=True); return False
            for m in self.master:
                m.grad.mul_(1.0 / 2 ** self.lg)
        self.opt.step()
        self.model.zero_grad(set_to_none=True)
        for m in self.master:
            m.grad = None
        if self.fp16:
            self.copy_to(self.groups, self.master)
            self.lg += 0.001
        return True

    @staticmethod
    def copy_to(groups, flats):  # master_params_to_model_params
        with th.no_grad():
            for g, m in zip(groups, flats):
                o = 0
                for p in g:
                    p.copy_(m[o:o + p.numel()].view_as(p)); o += p.numel()

def update_ema(targets, sources, rate):
    with th.no_grad():
        for t, s in zip(targets, sources):
            t.mul_(rate).add_(s, alpha=1 - rate)

def build(cfg, dropout, fp16, dev):
    th.manual_seed(0)
    m = ob.UNetModel(**cfg, dropout=dropout).to(dev)
    if fp16:
        m.convert_to_fp16()
    return m

def run_mode(mode, fp16, cfg, dev, batch, res, warm, reps):
    model = build(cfg, 0.1 if mode == "edm" else 0.0, fp16, dev).train()
    mp = Master(model, fp16, 1e-4 if mode == "edm" else 4e-4)
    emas = [[m.detach().clone() for m in mp.master] for _ in EMA_RATES]
    target = teacher = None
    if mode in ("cd", "ct"):
        target = copy.deepcopy(model).train()  # the target runs in train mode (dropout state restored), no grad
        for p in target.parameters():
            p.requires_grad_(False)
        target_master = [m.detach().clone() for m in mp.master]
        target_groups = ([[p for p in target.parameters() if p.ndim <= 1], [p for p in target.parameters() if p.ndim > 1]]
                         if fp16 else None)
    if mode == "cd":
        teacher = build(cfg, 0.0, fp16, dev).eval()
        for p in teacher.parameters():
            p.requires_grad_(False)
    n_scales = 40
    x0 = th.rand(batch, 3, res, res, device=dev) * 2 - 1
    y = th.randint(0, cfg["num_classes"], (batch,), device=dev) if cfg["num_classes"] else None

    def step():
        if mode == "edm":
            sigma = th.exp(th.randn(batch, device=dev) * 1.2 - 1.2)
            x_t = x0 + th.randn_like(x0) * sigma[:, None, None, None]
            d = denoise(model, x_t, sigma, False, y)
            w = sigma ** -2 + SIGMA_DATA ** -2
            loss = (((d - x0) ** 2).mean(dim=(1, 2, 3)) * w).mean()
        else:
            idx = th.randint(0, n_scales - 1, (batch,), device=dev)
            t, t2 = karras_sigma(idx, n_scales), karras_sigma(idx + 1, n_scales)
            noise = th.randn_like(x0)
            x_t = x0 + noise * t[:, None, None, None]
            state = th.cuda.get_rng_state() if dev.type == "cuda" else th.get_rng_state()
            d = denoise(model, x_t, t, True, y)
            with th.no_grad():
                if mode == "ct":
                    x_t2 = x0 + noise * t2[:, None, None, None]
                else:  # heun_solver with the teacher (EDM scalings)
                    dt = (t2 - t)[:, None, None, None]
                    d1 = (x_t - denoise(teacher, x_t, t, False, y)) / t[:, None, None, None]
                    x_e = x_t + d1 * dt
                    d2 = (x_e - denoise(teacher, x_e, t2, False, y)) / t2[:, None, None, None]
                    x_t2 = x_t + (d1 + d2) / 2 * dt
                if dev.type == "cuda":
                    th.cuda.set_rng_state(state)
                else:
                    th.set_rng_state(state)
                d_target = denoise(target, x_t2, t2, True, y)
            loss = ((d - d_target) ** 2).mean()
        mp.backward(loss)
        if mp.step():
            for e, r in zip(emas, EMA_RATES):
                update_ema(e, mp.master, r)
            if target is not None:
                update_ema(target_master, mp.master, 0.95)
                if fp16:
                    Master.copy_to(target_groups, target_master)
                else:
                    with th.no_grad():
                        for p, m in zip(target.parameters(), target_master):
                            p.copy_(m)
        return loss.item()  # log_loss_dict reads the loss every step

    if dev.type == "cuda":
        th.cuda.empty_cache(); th.cuda.reset_peak_memory_stats()
    ms = ob.timed(step, warm, reps, dev)
    med = statistics.median(ms)
    r = dict(mode=mode, precision="fp16" if fp16 else "fp32", batch=batch, median_ms=round(med, 2), min_ms=round(min(ms), 2),
             images_per_s=round(batch / (med / 1e3), 1), reps=reps, loss_scale_log2=round(mp.lg, 3) if fp16 else None,
             overflow_skips=mp.skipped)
    if dev.type == "cuda":
        free, total = th.cuda.mem_get_info(dev)
        r.update(peak_mem_gib=round(th.cuda.max_memory_allocated() / 2 ** 30, 2),
                 peak_reserved_gib=round(th.cuda.max_memory_reserved() / 2 ** 30, 2),
                 device_used_gib=round((total - free) / 2 ** 30, 2))  # what nvidia-smi shows, CUDA context included
    del model, mp, emas, target, teacher
    print(json.dumps(r), flush=True)
    return r

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--modes", default="edm,cd,ct")
    ap.add_argument("--precisions", default="fp16,fp32")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--warm", type=int, default=5)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--tiny", action="store_true", help="smoke test: batch 2, 16 px, 1 rep, a quarter-width network")
    ap.add_argument("--json", help="write the results to this file")
    ap.add_argument("--save-teacher", help="only save a random EDM ImageNet-64 state dict (official keys) to FILE and exit")
    args = ap.parse_args()
    dev = th.device(args.device)
    cfg = dict(ob.IM64)
    if args.save_teacher:
        th.manual_seed(0)
        th.save(ob.UNetModel(**cfg).state_dict(), args.save_teacher)
        print(f"saved {args.save_teacher}"); return
    batch, res, warm, reps = args.batch, cfg["image_size"], args.warm, args.reps
    if args.tiny:
        cfg.update(mc=32, head_ch=32, num_classes=10)
        batch, res, warm, reps = 2, 16, 1, 1
    try:  # the official code's flash attention; SDPA with the flash kernel preferred
        from torch.nn.attention import SDPBackend as K, sdpa_kernel
        ctx = sdpa_kernel([K.FLASH_ATTENTION, K.EFFICIENT_ATTENTION, K.MATH])
    except ImportError:
        import contextlib
        ctx = contextlib.nullcontext()
    info = dict(torch=th.__version__, gpu=th.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu", batch=batch)
    print(json.dumps(info), flush=True)
    results = []
    with ctx:
        for prec in args.precisions.split(","):
            if prec == "fp16" and dev.type == "cpu":
                ob.HALF = th.bfloat16  # CPU smoke test only: torch CPU has no fp16 convolutions
            for mode in args.modes.split(","):
                results.append(run_mode(mode, prec == "fp16", cfg, dev, batch, res, warm, reps))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"info": info, "results": results}, f, indent=1)

if __name__ == "__main__":
    main()
