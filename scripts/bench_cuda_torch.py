#!/usr/bin/env python3
"""PyTorch's time for the default U-Net training step (Adam, eps-MSE) and no-grad forward on one
GPU at batch 64 and 256: the reference for bench/bench_cuda (difflab) on the same GPU.
The model is tests/fixtures/make_unet_fixture.py's UNet, the architecture difflab's default U-Net
matches parameter for parameter (994,593). TF32 is off, as in difflab by default.
Usage: scripts/bench_cuda_torch.py [reps]   (needs a CUDA build of PyTorch and a GPU)"""
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "fixtures"))
from make_unet_fixture import UNet  # noqa: E402


def median_ms(step, reps):
    for _ in range(3):
        step()
    torch.cuda.synchronize()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        step()
        torch.cuda.synchronize()
        ts.append(time.perf_counter() - t0)
    ts.sort()
    return 1e3 * ts[len(ts) // 2]


def main():
    if not torch.cuda.is_available():
        print("bench_cuda_torch: no GPU visible to PyTorch; nothing to time")
        return 0
    reps = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.set_default_device("cuda")  # the fixture's time embedding builds its arange here
    torch.manual_seed(0)
    print(f"device: {torch.cuda.get_device_name(0)}, torch {torch.__version__}")
    for b in (64, 256):
        model = UNet().cuda()
        opt = torch.optim.Adam(model.parameters(), lr=2e-4)
        x = torch.randn(b, 1, 28, 28)

        def train_step():
            t = torch.rand(b) * 1000
            eps = torch.randn(b, 1, 28, 28)
            loss = ((model(x + eps, t) - eps) ** 2).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        def forward():
            with torch.no_grad():
                model(x, torch.rand(b) * 1000)

        print(f"torch U-Net train step b{b}: {median_ms(train_step, reps):.2f} ms")
        print(f"torch U-Net no-grad forward b{b}: {median_ms(forward, reps):.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
