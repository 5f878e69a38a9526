#!/usr/bin/python3
"""PyTorch's side of scripts/mem_depth_vs_torch.sh: gradient memory versus DDIM sampler depth.

Usage: /usr/bin/python3 bench/mem_depth_torch.py --steps K --method full|checkpoint
           [--batch 8] [--repeats 5] [--seed 0] [--threads 1]

Differentiates L = -mean(z_K), minus the brightness of the final samples of a K-step DDIM sampler
(eta 0) started from z_0 ~ N(0, I), with respect to every U-Net parameter and z_0:
  full        plain backprop through the unrolled sampler (every step's activations kept);
  checkpoint  each DDIM step (U-Net call + update) wrapped in
              torch.utils.checkpoint.checkpoint(..., use_reentrant=False): only the states z_k
              are kept and every step is recomputed during backward.
The model is the "MNIST-small" U-Net (experiments/configs/ddpm_mnist_small.json): base channels
16, multipliers 1,2,2 (16/32/32 channels at 28/14/7), one ResBlock per level, attention only in
the middle block (difflab's default model.attention_resolutions is empty; the middle always has
one), dropout 0, images 1x28x28. It is tests/fixtures/make_unet_fixture.py's UNet with
ch=(16, 32, 32); the sampler is bench/torch_reference.py's (difflab's DDIM: linear discrete
schedule, T = 1000, grid indices round(T (K - k) / K), net time = grid index).

Prints one JSON line: framework, model, sampler, steps, method, batch, threads, repeats,
seconds (median wall time of one gradient computation, forward sampling + backward, over
`repeats` timed runs after one warm-up), times_seconds, rss_peak_bytes (ru_maxrss at the end:
this process's high-water mark, so run one process per (K, method)), rss_before_bytes (VmRSS
with the model and z_0 built, before the first gradient), num_parameters, loss.
"""
import argparse
import json
import math
import os
import sys
import time

import torch
import torch.utils.checkpoint

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests", "fixtures"))
import torch_reference  # noqa: E402  (no side effects: definitions only, main() is guarded)
from make_unet_fixture import UNet  # noqa: E402

CHANNELS = (16, 32, 32)  # base 16, channel multipliers 1,2,2


def ddim_steps(steps, alpha_bar, T=1000):
    """The per-step (net time, a_t, s_t, a_s, s_s) of torch_reference.ddim, in its order."""
    idx = [int(round(T * (steps - k) / steps)) for k in range(steps + 1)]
    out = []
    for k in range(steps):
        i, s = idx[k], idx[k + 1]
        out.append((i, math.sqrt(alpha_bar[i]), math.sqrt(1.0 - alpha_bar[i]),
                    math.sqrt(alpha_bar[s]), math.sqrt(1.0 - alpha_bar[s])))
    return out


def make_step(model, i, a_t, s_t, a_s, s_s):
    """One DDIM step z_k -> z_{k+1}, the same arithmetic as torch_reference.ddim."""
    def step(z):
        eps = model(z, torch.full((z.shape[0],), float(i)))
        x0 = (z - eps * s_t) / a_t
        return x0 * a_s + eps * s_s if s_s > 0 else x0 * a_s
    return step


def sample_checkpointed(model, z, steps, alpha_bar):
    for coeffs in ddim_steps(steps, alpha_bar):
        z = torch.utils.checkpoint.checkpoint(make_step(model, *coeffs), z, use_reentrant=False)
    return z


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, required=True)
    ap.add_argument("--method", choices=["full", "checkpoint"], required=True)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    if args.steps < 1 or args.batch < 1 or args.repeats < 1 or args.threads < 1:
        ap.error("--steps, --batch, --repeats and --threads must be >= 1")
    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(args.threads)
    except RuntimeError:
        pass
    torch.manual_seed(args.seed)

    model = UNet(ch=CHANNELS, cin=1).eval()  # no dropout, GroupNorm: eval() changes nothing
    params = list(model.parameters())
    alpha_bar = torch_reference.linear_alpha_bar()
    z0 = torch.randn(args.batch, 1, 28, 28).requires_grad_(True)
    last = {}

    def gradient():
        if args.method == "full":
            zk = torch_reference.ddim(model, z0, args.steps, alpha_bar)
        else:
            zk = sample_checkpointed(model, z0, args.steps, alpha_bar)
        loss = -zk.mean()
        grads = torch.autograd.grad(loss, params + [z0])  # fresh tensors: nothing accumulates
        last["loss"] = loss.item()
        del grads, loss, zk

    rss_before = torch_reference.current_rss_bytes()
    times = [t * 1e-3 for t in torch_reference.time_reps(gradient, 1, args.repeats)]
    out = {"framework": "pytorch", "model": "unet_small", "sampler": "ddim",
           "steps": args.steps, "method": args.method, "batch": args.batch,
           "threads": torch.get_num_threads(), "repeats": args.repeats,
           "seconds": torch_reference.median(times), "times_seconds": times,
           "rss_peak_bytes": torch_reference.peak_rss_bytes(),
           "rss_before_bytes": rss_before,
           "num_parameters": sum(p.numel() for p in params), "loss": last["loss"]}
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
