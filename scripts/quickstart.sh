#!/usr/bin/env bash
# One command from a fresh Debian machine to a running demo: deps, Release build, small experiment.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD_DIR" -j "$(nproc)" --target difflab_demo
echo "== demo: fit a tiny MLP to a 2-D regression with difflab's autograd =="
"$BUILD_DIR"/difflab_demo "$@"
