#!/usr/bin/python3
"""PyTorch's side of scripts/bench_vs_torch.sh: times one case and prints one JSON line, mirroring bench/bench_vs_torch.cpp.

Usage: /usr/bin/python3 bench/torch_reference.py <case> [--threads N] [--reps R] [--warmup W]
                                                [--kstar K]
Cases as in bench_vs_torch.cpp (train, forward, ddim, sgemm, conv, cdm_step, ict_step,
cdm_baseline_rss, info). The U-Net of train, forward and ddim is
tests/fixtures/make_unet_fixture.py's UNet, which matches difflab's default nn::UNet parameter
for parameter (994,593). DDIM uses the same linear DDPM schedule (T = 1000, beta 1e-4 .. 0.02),
the same 50-step time grid (grid indices round(1000 (50 - k) / 50)), eps-prediction and eta 0.

MLGD-F cases (2D task; random init, so weights and losses differ from difflab's but every
shape, layer and operation is the same; see bench/README.md):
  cdm_step  one guided step, matching::mlgd's loop body with R = 1 at step 49 of the 99-step
            linear grid: the prior MLPScoreNet (dim 1, hidden 128, depth 3, time_embed_dim 32,
            eps) on x_t [1, 1] with graph, x0_hat, then dL/dx0_hat of L = -logsumexp(-l_j) + log J
            over J = 3 copies x0_hat + r xi (r = beta/sqrt(1 + beta^2)) each repeated n = 250
            times, sampled by the one-step consistency model (CondMLP dim 1, cond 1, 3x128,
            time_embed_dim 32, sigma_max 80, EDM c_skip/c_out/c_in with sigma_data 0.5),
            l_j = Gaussian MMD^2 U-statistic (median bandwidth, detached) against 250 target
            samples; one VJP through the prior to x_t (torch.autograd.grad) and the DDIM update.
  ict_step  one iCT step of that CondMLP, batch 1024: N(k) = 161 boundaries (k = 10000 of
            20000), lognormal index draw, teacher under no_grad, pseudo-Huber (c = 0.00054)
            weighted by 1/(sigma_i+1 - sigma_i), backward, Adam lr 1e-4.
  cdm_baseline_rss  dL/dx0_hat as in cdm_step with a K*-step unrolled DDIM (eta 0, linear
            schedule) of the CondMLP as a conditional eps network (it reads sigma_t/alpha_t);
            K* = --kstar, else $BENCH_KSTAR, else 64; for peak RSS (one process per K*) and time.
cdm_step and cdm_baseline_rss print the last rep's L to stderr.
Output fields: case, threads, reps, median_ms, times_ms, peak_rss_bytes (ru_maxrss),
start_rss_bytes (VmRSS after importing torch, before the case is built), plus per case:
sgemm_gflops (train, sgemm), gflops (conv), num_boundaries (ict_step), kstar (cdm_baseline_rss).
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


# ---- MLGD-F on the 2D task (cdm_step, cdm_baseline_rss) and its consistency model (ict_step) ----
# The modules mirror nn/time_embedding.cpp, nn/mlp_score.cpp and nn/cond_mlp.cpp layer for layer
# (the same Linear shapes, SiLU, sinusoidal features computed in f64 and rounded to f32).

CDM_N, CDM_J, CDM_GRID, CDM_STEP_INDEX = 250, 3, 99, 49
ICT_BATCH, ICT_STEP, ICT_TOTAL = 1024, 10000, 20000
SIGMA_MIN, SIGMA_MAX, SIGMA_DATA, RHO = 0.002, 80.0, 0.5, 7.0


class TimeEmbedding(torch.nn.Module):
    """features [sin(t f), cos(t f)] (f64, then f32) -> Linear(d, 4d), SiLU, Linear(4d, 4d)."""

    def __init__(self, dim):
        super().__init__()
        half = dim // 2
        self.register_buffer("freqs", torch.exp(-math.log(10000.0) *
                                                torch.arange(half, dtype=torch.float64) / half))
        self.mlp = torch.nn.Sequential(torch.nn.Linear(dim, 4 * dim), torch.nn.SiLU(),
                                       torch.nn.Linear(4 * dim, 4 * dim))

    def forward(self, t):
        e = t.double()[:, None] * self.freqs[None, :]
        return self.mlp(torch.cat([torch.sin(e), torch.cos(e)], 1).float())


class MLPScoreBlock(torch.nn.Module):
    def __init__(self, hidden, edim):
        super().__init__()
        self.fc1, self.t = torch.nn.Linear(hidden, hidden), torch.nn.Linear(edim, hidden)
        self.fc2 = torch.nn.Linear(hidden, hidden)

    def forward(self, h, e):
        return h + self.fc2(F.silu(self.fc1(F.silu(h)) + self.t(e)))


class MLPScoreNet(torch.nn.Module):
    """nn::MLPScoreNet (no classes): the prior of `train-ddpm --preset cdm_prior_2d`."""

    def __init__(self, dim=1, hidden=128, depth=3, time_embed_dim=32):
        super().__init__()
        self.temb = TimeEmbedding(time_embed_dim)
        self.inp = torch.nn.Linear(dim, hidden)
        self.blocks = torch.nn.ModuleList(MLPScoreBlock(hidden, 4 * time_embed_dim)
                                          for _ in range(depth))
        self.out = torch.nn.Linear(hidden, dim)

    def forward(self, x, t):
        e, h = self.temb(t), self.inp(x)
        for blk in self.blocks:
            h = blk(h, e)
        return self.out(F.silu(h))


class CondMLPLayer(torch.nn.Module):
    def __init__(self, n_in, hidden, edim):
        super().__init__()
        self.fc, self.emb = torch.nn.Linear(n_in, hidden), torch.nn.Linear(edim, hidden)

    def forward(self, h, s_act):
        return F.silu(self.fc(h) + self.emb(s_act))


class CondMLP(torch.nn.Module):
    """nn::CondMLP without an encoder: s = temb(250 ln sigma) + cond_emb(c), 3x128 layers."""

    def __init__(self, dim=1, cond_dim=1, hidden=128, blocks=3, time_embed_dim=32):
        super().__init__()
        edim = 4 * time_embed_dim
        self.temb = TimeEmbedding(time_embed_dim)
        self.cond_emb = torch.nn.Linear(cond_dim, edim)
        self.layers = torch.nn.ModuleList(CondMLPLayer(dim if k == 0 else hidden, hidden, edim)
                                          for k in range(blocks))
        self.out = torch.nn.Linear(hidden, dim)

    def forward(self, x, sigma, cond):
        s_act = F.silu(self.temb(250.0 * torch.log(sigma.double())) + self.cond_emb(cond))
        h = x
        for layer in self.layers:
            h = layer(h, s_act)
        return self.out(h)


def consistency_function(net, x, sigma, cond):
    """f = c_skip x + c_out F(c_in x, sigma, c) with per-sample [B, 1] coefficients (sigma f64 [B])."""
    d = sigma - SIGMA_MIN
    c_skip = SIGMA_DATA ** 2 / (d * d + SIGMA_DATA ** 2)
    c_out = SIGMA_DATA * d / torch.sqrt(SIGMA_DATA ** 2 + sigma * sigma)
    c_in = 1.0 / torch.sqrt(sigma * sigma + SIGMA_DATA ** 2)
    col = lambda c: c.float()[:, None]
    f = net(x * col(c_in), sigma.float(), cond)
    return x * col(c_skip) + f * col(c_out)


def cm_sampler(net):
    """One-step consistency sampling at sigma_max: y = f(sigma_max z, sigma_max; cond)."""
    def sample(cond):
        m = cond.shape[0]
        z = torch.randn(m, 1)
        return consistency_function(net, z * SIGMA_MAX,
                                    torch.full((m,), SIGMA_MAX, dtype=torch.float64), cond)
    return sample


def ddim_sampler(net, kstar, alpha_bar, T=1000):
    """K*-step unrolled DDIM (eta 0) of the CondMLP as an eps network reading sigma_t/alpha_t."""
    idx = [int(math.floor(T * (kstar - k) / kstar + 0.5)) for k in range(kstar + 1)]  # std::round

    def sample(cond):
        z = torch.randn(cond.shape[0], 1)
        for k in range(kstar):
            i, s = idx[k], idx[k + 1]
            a_t, s_t = math.sqrt(alpha_bar[i]), math.sqrt(1.0 - alpha_bar[i])
            a_s, s_s = math.sqrt(alpha_bar[s]), math.sqrt(1.0 - alpha_bar[s])
            eps = net(z, torch.full((z.shape[0],), s_t / a_t), cond)
            x0 = (z - eps * s_t) / a_t
            z = x0 * a_s + eps * s_s if s_s > 0 else x0 * a_s
        return z
    return sample


def cdm_target(n):
    """G at x* = -5 of the 2D task: components at -5 and +5, std sqrt(0.2 - 0.195^2/0.5)."""
    u, z = torch.rand(n, 1), torch.randn(n, 1)
    return (u < 0.5).float() * -10.0 + 5.0 + math.sqrt(0.2 - 0.195 ** 2 / 0.5) * z


def cdist2(a, b):
    return ((a[:, None, :] - b[None, :, :]) ** 2).sum(-1)


def mmd2_u(x, y):
    """Gaussian-kernel MMD^2 U-statistic, median-heuristic bandwidth (detached, lower median)."""
    with torch.no_grad():
        d2 = cdist2(x[:1000], y[:1000]).flatten()
        h2 = d2[d2 > 0].double().median().item() / 2.0
    k = lambda a, b: torch.exp(cdist2(a, b) * (-1.0 / (2.0 * h2)))
    n, m = x.shape[0], y.shape[0]
    xx = (k(x, x) * (1.0 - torch.eye(n))).sum() / (n * (n - 1))
    yy = (k(y, y) * (1.0 - torch.eye(m))).sum() / (m * (m - 1))
    return xx + yy - 2.0 * k(x, y).mean()


def matching_gradient(x0_hat, spread, sampler):
    """matching::matching_gradient for one row: dL/dx0_hat of the LGD-MC loss, and L."""
    x0 = x0_hat.detach().clone().requires_grad_(True)
    copies = x0.expand(CDM_J, x0.shape[1]) + torch.randn(CDM_J, x0.shape[1]) * spread
    cond = torch.cat([copies[j:j + 1].expand(CDM_N, x0.shape[1]).contiguous()
                      for j in range(CDM_J)], 0)
    y = sampler(cond)
    ells = torch.cat([mmd2_u(y[j * CDM_N:(j + 1) * CDM_N], cdm_target(CDM_N)).reshape(1)
                      for j in range(CDM_J)])
    L = -torch.logsumexp(-ells, 0) + math.log(CDM_J)
    return torch.autograd.grad(L, x0)[0], L.item()


def cdm_levels():
    """(alpha_t, sigma_t, alpha_t', sigma_t', t) of the timed step and r_t = beta/sqrt(1 + beta^2)."""
    ab = linear_alpha_bar()
    i, s = [int(math.floor(1000 * (CDM_GRID - k) / CDM_GRID + 0.5))
            for k in (CDM_STEP_INDEX, CDM_STEP_INDEX + 1)]
    beta = 1.0 - ab[i] / ab[s]
    levels = (math.sqrt(ab[i]), math.sqrt(1 - ab[i]), math.sqrt(ab[s]), math.sqrt(1 - ab[s]), i)
    return levels, beta / math.sqrt(1.0 + beta * beta)


def run_cdm_step(warmup, reps):
    prior, sampler = MLPScoreNet(), cm_sampler(CondMLP())
    x = torch.randn(1, 1)
    (a_t, s_t, a_s, s_s, i), spread = cdm_levels()
    last = {}

    def step():  # matching::mlgd's loop body, R = 1, zeta = 1
        xt = x.detach().requires_grad_(True)
        eps = prior(xt, torch.full((1,), float(i)))  # net time 1000 t = grid index
        x0 = (xt - eps * s_t) / a_t
        x_next = x0.detach() * a_s + eps.detach() * s_s
        g0, last["L"] = matching_gradient(x0, spread, sampler)
        g = torch.autograd.grad(x0, xt, g0)[0]
        return x_next - g * 1.0

    times = time_reps(step, warmup, reps)
    print("cdm_step: L = %.6g (last rep; random weights)" % last["L"], file=sys.stderr)
    return times, {}


def run_cdm_baseline_rss(warmup, reps, kstar):
    sampler = ddim_sampler(CondMLP(), kstar, linear_alpha_bar())
    x0_hat = torch.randn(1, 1)
    _, spread = cdm_levels()
    last = {}

    def grad():
        _, last["L"] = matching_gradient(x0_hat, spread, sampler)

    times = time_reps(grad, warmup, reps)
    print("cdm_baseline_rss K*=%d: L = %.6g (last rep; random weights)" % (kstar, last["L"]),
          file=sys.stderr)
    return times, {"kstar": kstar}


def ict_tables():
    """Karras boundaries of N(k) at k = ICT_STEP of ICT_TOTAL and the CDF of the index law."""
    s0, s1, p_mean, p_std = 10, 1280, -1.1, 2.0
    period = max(1, int(ICT_TOTAL / (math.log2(s1 // s0) + 1.0)))
    n = min(s0 * 2 ** (ICT_STEP // period), s1) + 1
    lo, hi = SIGMA_MIN ** (1 / RHO), SIGMA_MAX ** (1 / RHO)
    sig = [(lo + i / (n - 1) * (hi - lo)) ** RHO for i in range(n)]
    sig[0], sig[-1] = SIGMA_MIN, SIGMA_MAX
    erf = lambda s: math.erf((math.log(s) - p_mean) / (math.sqrt(2.0) * p_std))
    p = [erf(sig[i + 1]) - erf(sig[i]) for i in range(n - 1)]
    cdf = torch.cumsum(torch.tensor(p, dtype=torch.float64) / sum(p), 0)
    return torch.tensor(sig, dtype=torch.float64), cdf


def run_ict_step(warmup, reps):
    net = CondMLP()
    y, cond = torch.randn(ICT_BATCH, 1), torch.randn(ICT_BATCH, 1)
    opt = torch.optim.Adam(net.parameters(), lr=1e-4)
    c = 0.00054  # pseudo-Huber c for one element per sample

    def step():  # diffusion::ict_loss recomputes the boundaries and P(i) on every call, so here too
        sig, cdf = ict_tables()
        u = torch.rand(ICT_BATCH, dtype=torch.float64) * cdf[-1]
        idx = torch.searchsorted(cdf, u, right=True).clamp(max=cdf.shape[0] - 1)
        z = torch.randn(ICT_BATCH, 1)
        s_lo, s_hi = sig[idx], sig[idx + 1]
        with torch.no_grad():
            teacher = consistency_function(net, y + z * s_lo.float()[:, None], s_lo, cond)
        student = consistency_function(net, y + z * s_hi.float()[:, None], s_hi, cond)
        d = torch.sqrt(((student - teacher) ** 2).sum(1) + c * c) - c
        loss = (d * (1.0 / (s_hi - s_lo)).float()).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    return time_reps(step, warmup, reps), {"num_boundaries": ict_tables()[0].shape[0]}


CASES = {"train": (run_train, 3, 2), "forward": (run_forward, 5, 2), "ddim": (run_ddim, 1, 1),
         "sgemm": (run_sgemm, 10, 2), "conv": (run_conv, 5, 2), "cdm_step": (run_cdm_step, 20, 3),
         "ict_step": (run_ict_step, 20, 3), "cdm_baseline_rss": (run_cdm_baseline_rss, 3, 1)}


def main():
    start_rss = current_rss_bytes()
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("case", choices=list(CASES) + ["info"])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=-1)
    ap.add_argument("--warmup", type=int, default=-1)
    ap.add_argument("--kstar", default=os.environ.get("BENCH_KSTAR") or "64",
                    help="K* of cdm_baseline_rss (default $BENCH_KSTAR, else 64)")
    args = ap.parse_args()
    if args.case == "cdm_baseline_rss" and not (args.kstar.isdigit() and
                                                1 <= int(args.kstar) <= 1000):
        ap.error("K* (--kstar or $BENCH_KSTAR) must be an integer in 1..1000, got %r" % args.kstar)
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
    times, extra = fn(warmup, reps, **({"kstar": int(args.kstar)}
                                       if args.case == "cdm_baseline_rss" else {}))
    out = {"side": "torch", "case": args.case, "threads": torch.get_num_threads(), "reps": reps,
           "median_ms": median(times), "times_ms": times, "peak_rss_bytes": peak_rss_bytes(),
           "start_rss_bytes": start_rss}
    out.update(extra)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
