#!/usr/bin/env bash
# The CUDA check, in two halves.
#
# Here (any machine with nvcc; no GPU needed):   scripts/gpu_check.sh [bundle]
#   Builds the CUDA tests, bench_cuda and the difflab CLI for sm_90 in build-gpu/ with host code
#   for any x86-64 (DIFFLAB_NATIVE=OFF: no AVX-512 the GPU host may lack), strips them and gathers
#   them with the shared libraries a CUDA image lacks (OpenBLAS, Boost.Test, ...; the CUDA
#   toolkit's own libraries and glibc come from the device) and MNIST into build-gpu/bundle/,
#   packed as build-gpu/gpu-bundle.tar.gz. Fails when that archive plus the tracked tree exceed
#   64 MiB (what a device call can carry).
#   Prints the bundle's size and contents and the one command to run on the device.
#
# There (on the GPU machine, from the repository root, with build-gpu/gpu-bundle.tar.gz carried):
#   scripts/gpu_check.sh device
#   Runs, in order of value, each result written to $OUT (default ./gpu-check-out) as it ends:
#   1 the CUDA test executables (the parity suite first), 2 compute-sanitizer memcheck (the
#   allocator's cache off) and racecheck on the parity suite, 3 bench_cuda against
#   scripts/bench_cuda_torch.py (both TF32 off), 4 a 300-step train-ddpm --device cuda on MNIST
#   (ddpm_mnist_small) with its loss curve and sample grid. About 5 minutes; one summary at the end.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${GPU_BUILD_DIR:-build-gpu}
BUNDLE=$BUILD/bundle
ARCHIVE=$BUILD/gpu-bundle.tar.gz  # what a device call carries: the bundle, gzip-compressed
LIMIT_MIB=64
TESTS=(tensor_cuda_parity tensor_cuda_runtime nn_cuda experiments_cuda)

# ---------------------------------------------------------------- here: build and bundle
# Shared libraries the device image provides: glibc, the C++ runtime, the driver, the toolkit.
DEVICE_HAS='^(linux-vdso|ld-linux|libc|libm|libdl|libpthread|librt|libstdc\+\+|libgcc_s|libcuda|libcudart|libcublas|libcublasLt|libcurand|libnccl)\.so'

bundle_libs() {  # every non-device shared library the bundled executables load, dereferenced
  ldd "$BUNDLE"/bin/* | awk '/=>/ && $3 ~ /^\// {print $1, $3}' | sort -u |
    while read -r name path; do
      [[ $name =~ $DEVICE_HAS ]] && continue
      cp -L "$path" "$BUNDLE/lib/$name"
    done
}

make_bundle() {
  set -e
  command -v nvcc >/dev/null || [ -x /usr/local/cuda/bin/nvcc ] ||
    { echo "gpu_check: no nvcc (CUDA toolkit) here; cannot build the bundle" >&2; exit 1; }
  export PATH=$PATH:/usr/local/cuda/bin
  scripts/deps.sh
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DDIFFLAB_WERROR=ON \
    -DDIFFLAB_CUDA=ON -DDIFFLAB_NATIVE=OFF -DCMAKE_CUDA_ARCHITECTURES=90 >/dev/null
  cmake --build "$BUILD" -j "${JOBS:-$(nproc)}" --target "${TESTS[@]}" bench_cuda difflab_cli
  rm -rf "$BUNDLE"
  mkdir -p "$BUNDLE/bin" "$BUNDLE/lib" "$BUNDLE/data"
  for t in "${TESTS[@]}"; do cp "$BUILD/tests/$t" "$BUNDLE/bin/"; done
  cp "$BUILD/bench/bench_cuda" "$BUILD/difflab" "$BUNDLE/bin/"
  strip --strip-unneeded "$BUNDLE"/bin/*
  bundle_libs
  strip --strip-unneeded "$BUNDLE"/lib/* 2>/dev/null || true
  # MNIST for the training run and its LeNet judge (trained there when not cached here).
  [ -f data/mnist.bin ] || scripts/fetch_mnist.sh ||
    echo "gpu_check: MNIST could not be fetched; the bundle goes without it and its training step will fail" >&2
  [ -f data/mnist.bin ] && cp data/mnist.bin "$BUNDLE/data/"
  [ -f data/lenet_mnist.safetensors ] && cp data/lenet_mnist.safetensors "$BUNDLE/data/"
  tar -C "$BUILD" -czf "$ARCHIVE" bundle
  report_bundle
}

report_bundle() {
  local bytes packed tree
  bytes=$(du -sb "$BUNDLE" | cut -f1)
  packed=$(stat -c %s "$ARCHIVE")
  tree=$(git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
  echo "gpu_check: bundle $BUNDLE:"
  (cd "$BUNDLE" && find . -type f -printf '%s\t%p\n' | sort -k2 |
    awk -F'\t' '{printf "  %8.2f MiB  %s\n", $1 / 1048576, substr($2, 3)}')
  awk -v b="$bytes" -v p="$packed" -v t="$tree" -v l="$LIMIT_MIB" -v a="$ARCHIVE" 'BEGIN {
    printf "gpu_check: bundle %.1f MiB, packed as %s %.1f MiB; with the tracked tree (%.1f MiB) %.1f MiB of the %d MiB a device call carries\n",
      b / 1048576, a, p / 1048576, t / 1048576, (p + t) / 1048576, l}'
  if [ $((packed + tree)) -gt $((LIMIT_MIB * 1048576)) ]; then
    echo "gpu_check: FAIL: over $LIMIT_MIB MiB" >&2
    exit 1
  fi
  echo "gpu_check: on the device, from the repository root (device tool: carry [\"$ARCHIVE\"]):"
  echo "  scripts/gpu_check.sh device"
}

# ---------------------------------------------------------------- there: run on the GPU
OUT=${OUT:-$ROOT/gpu-check-out}
SUMMARY=()

# step NAME SECONDS LOG CMD...: runs CMD under a time limit, its output appended to $OUT/LOG.
step() {
  local name=$1 limit=$2 log=$OUT/$3 t0 rc status part
  shift 3
  part=$(mktemp)
  echo "=== $name: $*" | tee -a "$log"
  t0=$(date +%s.%N)
  timeout --kill-after=5 "$limit" "$@" >"$part" 2>&1
  rc=$?
  cat "$part" >>"$log"
  case $rc in
    0) status=ok ;;
    124 | 137) status="CUT OFF at ${limit}s" ;;
    *) status="FAILED (exit $rc)" ;;
  esac
  # A test executable whose GPU cases were all skipped passes, but it proved nothing.
  grep -q "skipped, no GPU" "$part" && status="$status, GPU cases SKIPPED"
  grep -q "ERROR OCCURRED" "$part" && status="FAILED (benchmark errors)"
  rm -f "$part"
  SUMMARY+=("$(awk -v n="$name" -v s="$status" -v a="$t0" -v b="$(date +%s.%N)" \
    'BEGIN {printf "%-46s %-36s %6.1f s", n, s, b - a}')")
  echo "=== $name: $status" | tee -a "$log"
  write_summary
}

write_summary() {
  { echo "difflab CUDA check, $(date -u +%FT%TZ), $(git rev-parse --short HEAD 2>/dev/null)"
    echo "$GPU_LINE"
    printf '%s\n' "${SUMMARY[@]}"; } >"$OUT/summary.txt"
}

on_device() {
  if [ ! -d "$BUNDLE/bin" ]; then
    [ -f "$ARCHIVE" ] || { echo "gpu_check: no $ARCHIVE here: run scripts/gpu_check.sh where nvcc is, and carry it" >&2; exit 2; }
    tar -C "$BUILD" -xzf "$ARCHIVE"
  fi
  mkdir -p "$OUT"
  export PATH=$PATH:/usr/local/cuda/bin
  export LD_LIBRARY_PATH="$ROOT/$BUNDLE/lib:/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export DIFFLAB_CONFIG_DIR="$ROOT/experiments/configs" DIFFLAB_MNIST="$ROOT/$BUNDLE/data/mnist.bin"
  export OMP_WAIT_POLICY=passive
  GPU_LINE="GPU: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | head -1)"
  [ "$GPU_LINE" = "GPU: " ] && GPU_LINE="GPU: none (nvidia-smi finds no GPU); every GPU case below skips"
  echo "$GPU_LINE"
  local bin=$ROOT/$BUNDLE/bin missing
  missing=$(ldd "$bin"/* 2>/dev/null | grep 'not found' | sort -u)
  [ -n "$missing" ] && echo "gpu_check: libraries not found: $missing" | tee "$OUT/missing_libs.txt"
  # 1. Correctness: every CUDA test executable, the parity suite first.
  local -A limit=([tensor_cuda_parity]=90 [tensor_cuda_runtime]=30 [nn_cuda]=60 [experiments_cuda]=150)
  for t in "${TESTS[@]}"; do
    step "$t" "${limit[$t]}" tests.log "$bin/$t" --log_level=test_suite --report_level=short
  done
  # 2. compute-sanitizer on the parity suite, the allocator's cache off so memcheck sees every
  #    block's true bounds and every use after free.
  if command -v compute-sanitizer >/dev/null; then
    DIFFLAB_CUDA_NO_CACHE=1 step "memcheck tensor_cuda_parity" 90 sanitizer.log \
      compute-sanitizer --tool memcheck --error-exitcode 9 "$bin/tensor_cuda_parity" --report_level=short
    step "racecheck (norm, reduce, cdist, large shapes)" 60 sanitizer.log \
      compute-sanitizer --tool racecheck --error-exitcode 9 "$bin/tensor_cuda_parity" \
      --run_test=norm_softmax_parity:shape_reduce_parity:index_parity:large_shape_parity --report_level=short
  else
    SUMMARY+=("$(printf '%-46s %s' compute-sanitizer 'NOT FOUND on this machine')")
  fi
  # 3. Speed: the default U-Net's training step and forward, difflab and PyTorch on this GPU.
  step "bench_cuda (difflab, TF32 off)" 60 bench.log "$bin/bench_cuda" --benchmark_repetitions=5 \
    --benchmark_report_aggregates_only=true
  step "bench_cuda_torch.py (PyTorch, TF32 off)" 60 bench.log python3 scripts/bench_cuda_torch.py 20
  # 4. A real run: 300 training steps of ddpm_mnist_small on the GPU, its loss curve and grid.
  local run=/tmp/difflab_gpu_check_run
  rm -rf "$run"
  step "train-ddpm --device cuda, 300 steps" 90 train.log "$bin/difflab" train-ddpm \
    --preset ddpm_mnist_small --device cuda --run "$run" --set train.steps=300 \
    --set train.log_every=10 --set train.eval_every=300 --set train.checkpoint_every=300
  [ -f "$run/metrics.csv" ] && cp "$run/metrics.csv" "$OUT/train_metrics.csv"
  local grid
  grid=$(ls -t "$run"/samples/*.png 2>/dev/null | head -1)
  [ -n "$grid" ] && cp "$grid" "$OUT/train_samples.png"
  echo
  cat "$OUT/summary.txt"
}

case "${1:-bundle}" in
  bundle) make_bundle ;;
  device) on_device ;;
  *) echo "usage: scripts/gpu_check.sh [bundle|device]" >&2; exit 2 ;;
esac
