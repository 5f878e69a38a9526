#!/usr/bin/python3
"""PyTorch's side of scripts/bench_vs_torch.sh: times one case and prints one JSON line, mirroring bench/bench_vs_torch.cpp.

Usage: /usr/bin/python3 bench/torch_reference.py <case> [--threads N] [--reps R] [--warmup W]
Cases as in bench_vs_torch.cpp (train, forward, ddim, sgemm, conv, info). The model is
tests/fixtures/make_unet_fixture.py's UNet, which matches difflab's default nn::UNet parameter
for parameter (994,593). DDIM uses the same linear DDPM schedule (T = 1000, beta 1e-4 .. 0.02),
the same 50-step time grid (grid indices round(1000 (50 - k) / 50)), eps-prediction and eta 0.
Output fields: case, threads, reps, median_ms, times_ms, peak_rss_bytes (ru_maxrss),
start_rss_bytes (VmRSS after importing torch, before the case is built), plus per case:
sgemm_gflops (train, sgemm), gflops (conv).
"""
import argparse
import json
import math
import os
import resource
import sys
import time

import torch
import torch.nn.functional as F

BATCH = 64


def current_rss_bytes():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def peak_rss_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def time_reps(f, warmup, reps):
    for _ in range(warmup):
        f()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        f()
        ts.append(1e3 * (time.perf_counter() - t0))
    return ts


def median(v):
    s = sorted(v)
    n = len(s)
    return 0.0 if n == 0 else (s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2]))


def unet():
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                    "fixtures"))
    from make_unet_fixture import UNet
    return UNet()


def sgemm_gflops(reps=5):
    n = 1024
    a, b = torch.randn(n, n), torch.randn(n, n)
    c = torch.empty(n, n)
    ms = median(time_reps(lambda: torch.matmul(a, b, out=c), 1, reps))
    return 2.0 * n ** 3 / (ms * 1e-3) / 1e9


def run_train(warmup, reps):
    model = unet()
    opt = torch.optim.Adam(model.parameters(), lr=2e-4)
    x = torch.randn(BATCH, 1, 28, 28)

    def step():
        t = torch.rand(BATCH) * 1000
        eps = torch.randn(BATCH, 1, 28, 28)
        loss = ((model(x + eps, t) - eps) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    times = time_reps(step, warmup, reps)
    return times, {"sgemm_gflops": sgemm_gflops(),
                   "num_parameters": sum(p.numel() for p in model.parameters())}


def run_forward(warmup, reps):
    model = unet().eval()
    x = torch.randn(BATCH, 1, 28, 28)

    def fwd():
        with torch.no_grad():
            model(x, torch.rand(BATCH) * 1000)

    return time_reps(fwd, warmup, reps), {}


def linear_alpha_bar(T=1000, beta_start=1e-4, beta_end=0.02):
    """alpha_bar[i] for i = 0..T in f64, as diffusion::LinearDiscreteSchedule."""
    ab, out = 1.0, [1.0]
    for i in range(1, T + 1):
        beta = beta_start + (beta_end - beta_start) * (i - 1) / (T - 1)
        ab *= 1.0 - beta
        out.append(ab)
    return out


def ddim(model, z, steps, alpha_bar, T=1000):
    idx = [int(round(T * (steps - k) / steps)) for k in range(steps + 1)]
    for k in range(steps):
        i, s = idx[k], idx[k + 1]
        a_t, s_t = math.sqrt(alpha_bar[i]), math.sqrt(1.0 - alpha_bar[i])
        a_s, s_s = math.sqrt(alpha_bar[s]), math.sqrt(1.0 - alpha_bar[s])
        eps = model(z, torch.full((z.shape[0],), float(i)))  # net time 1000 t = grid index
        x0 = (z - eps * s_t) / a_t
        z = x0 * a_s + eps * s_s if s_s > 0 else x0 * a_s
    return z


def run_ddim(warmup, reps):
    model = unet().eval()
    alpha_bar = linear_alpha_bar()
    z0 = torch.randn(BATCH, 1, 28, 28)
    with torch.no_grad():
        for _ in range(warmup):
            ddim(model, z0, 2, alpha_bar)
        times = time_reps(lambda: ddim(model, z0, 50, alpha_bar), 0, reps)
    return times, {"steps": 50}


def run_sgemm(warmup, reps):
    n = 1024
    a, b = torch.randn(n, n), torch.randn(n, n)
    times = time_reps(lambda: torch.matmul(a, b), warmup, reps)
    return times, {"sgemm_gflops": 2.0 * n ** 3 / (median(times) * 1e-3) / 1e9}


def run_conv(warmup, reps):
    x = torch.randn(BATCH, 64, 28, 28, requires_grad=True)
    w = torch.randn(64, 64, 3, 3, requires_grad=True)
    b = torch.randn(64)
    gout = torch.randn(BATCH, 64, 28, 28)

    def fb():
        y = F.conv2d(x, w, b, padding=1)
        torch.autograd.grad([y], [x, w], [gout])

    times = time_reps(fb, warmup, reps)
    flops = 3.0 * 2.0 * BATCH * 64 * 64 * 9 * 28 * 28
    return times, {"gflops": flops / (median(times) * 1e-3) / 1e9}


CASES = {"train": (run_train, 3, 2), "forward": (run_forward, 5, 2), "ddim": (run_ddim, 1, 1),
         "sgemm": (run_sgemm, 10, 2), "conv": (run_conv, 5, 2)}


def main():
    start_rss = current_rss_bytes()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("case", choices=list(CASES) + ["info"])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=-1)
    ap.add_argument("--warmup", type=int, default=-1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    if args.case == "info":
        print(json.dumps({"side": "torch", "torch_version": torch.__version__,
                          "threads": torch.get_num_threads(),
                          "glibc_tunables": os.environ.get("GLIBC_TUNABLES", "")}))
        return 0
    fn, reps, warmup = CASES[args.case]
    reps = args.reps if args.reps >= 1 else reps
    warmup = args.warmup if args.warmup >= 0 else warmup
    times, extra = fn(warmup, reps)
    out = {"side": "torch", "case": args.case, "threads": torch.get_num_threads(), "reps": reps,
           "median_ms": median(times), "times_ms": times, "peak_rss_bytes": peak_rss_bytes(),
           "start_rss_bytes": start_rss}
    out.update(extra)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
