#!/usr/bin/env bash
# One bounded libFuzzer run, as a ctest test (fuzz/CMakeLists.txt, LABELS fuzz):
#   run_fuzzer.sh FUZZER NAME FUZZ_SRC_DIR WORK_DIR SECONDS MAX_LEN
# The committed seeds and regressions are copied into WORK_DIR/corpus (which keeps what earlier
# runs found; the source tree is never written); crash, leak and timeout inputs land in
# WORK_DIR/artifacts/. Exits non-zero when libFuzzer found something.
set -uo pipefail
fuzzer=$1 name=$2 src=$3 work=$4 seconds=$5 max_len=$6
corpus=$work/corpus artifacts=$work/artifacts
mkdir -p "$corpus" "$artifacts"
for d in "$src/corpus/$name" "$src/regressions/$name"; do
  [ -d "$d" ] && find "$d" -type f ! -name '.*' -exec cp -n -t "$corpus" {} +
done
dict=()
[ -f "$src/dict/$name.dict" ] && dict=(-dict="$src/dict/$name.dict")
log=$work/fuzz.log
echo "fuzz $name: ${seconds}s, corpus $corpus, artifacts in $artifacts/, log $log"
# A 1 MiB stack (instead of 8) makes recursion driven by the input (nested JSON) overflow at
# depths that inputs within -max_len can reach.
ulimit -s "${DIFFLAB_FUZZ_STACK_KB:-1024}"
# -timeout: a single input running 10 s is a hang; -rss_limit_mb also caps single allocations
# (malloc_limit_mb defaults to it), so a header field cannot make a reader allocate gigabytes.
OMP_NUM_THREADS=1 ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
  nice "$fuzzer" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len="$max_len" -timeout=10 \
  -print_final_stats=1 -artifact_prefix="$artifacts/" "${dict[@]}" "$corpus" >"$log" 2>&1
rc=$?
grep -E '^#[0-9]+ +(DONE|INITED)|^(stat::|Done )|^==[0-9]+==|ERROR|SUMMARY|artifact' "$log" | tail -20
if [ $rc -ne 0 ]; then
  echo "fuzz $name: libFuzzer exited $rc; inputs in $artifacts/:"
  ls -l "$artifacts"
fi
exit $rc
