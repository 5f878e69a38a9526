#!/usr/bin/env bash
# Bounded fuzzing of the readers of untrusted bytes (fuzz/: safetensors and train states, config
# JSON and --set, the MNIST cache). Configures a clang build with DIFFLAB_FUZZ=ON (libFuzzer,
# AddressSanitizer, UBSan), builds the three fuzzers, replays the committed seeds and
# regressions under the sanitizers, then runs `ctest -L fuzz`: each fuzzer SECONDS on a copy of
# the seeds kept in the build folder. Exits non-zero when a fuzzer found something.
# Usage: scripts/fuzz.sh [seconds]   (default 60)   env: BUILD_DIR (build-fuzz), JOBS (2)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
DIFFLAB_WITH_FUZZ=1 scripts/deps.sh
build=${BUILD_DIR:-build-fuzz}
# Warnings are not errors here: this clang build exists to find crashes; the gcc build
# (scripts/test.sh) is the one that treats warnings as errors.
cmake -S . -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DDIFFLAB_FUZZ=ON -DDIFFLAB_FUZZ_SECONDS="$seconds" -DDIFFLAB_WERROR=OFF -DDIFFLAB_CUDA=OFF >/dev/null
ninja -C "$build" -j "${JOBS:-2}" fuzz_safetensors fuzz_config fuzz_mnist fuzz_replay
work=$build/fuzz/work
echo "fuzz.sh: findings land in $work/<target>/artifacts/ (crash-*, leak-*, timeout-*, oom-*),"
echo "fuzz.sh: logs in $work/<target>/fuzz.log; reproduce one with $build/fuzz/fuzz_<target> FILE."
echo "fuzz.sh: after the fix, add it to fuzz/regressions/<target>/ named after what it caught."
status=0
ctest --test-dir "$build" -R '^fuzz_replay$' --output-on-failure || status=1
ctest --test-dir "$build" -L fuzz --output-on-failure || status=1
if [ $status -ne 0 ]; then
  echo "fuzz.sh: FOUND SOMETHING: see $work/*/artifacts/ and the logs above" >&2
  for d in "$work"/*/artifacts; do [ -n "$(ls -A "$d" 2>/dev/null)" ] && ls -l "$d"; done
fi
exit $status
