#!/usr/bin/env bash
# Times difflab against PyTorch (CPU) in alternating process pairs, case by case; see bench/README.md.
#
# Usage: scripts/bench_vs_torch.sh [pairs]
# Environment: BENCH_PAIRS (default 5; the argument wins), BENCH_THREADS ("1 2"),
#   BENCH_CASES (default train,forward,ddim,sgemm,conv; also cdm_step, ict_step,
#   cdm_baseline_rss: the MLGD-F cases, run only when named; commas or spaces),
#   BENCH_REPS (timed reps per process; default per case: train 3, forward 5, ddim 1, sgemm 10,
#   conv 5, cdm_step 20, ict_step 20, cdm_baseline_rss 3), BENCH_KSTAR (K* of cdm_baseline_rss,
#   one process pair per value: "64" by default, e.g. "16 64 128"), BENCH_BUILD_DIR (build).
# Per BENCHMARKING.md (/work/shared): OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are unset for the
# benchmark commands only; PyTorch runs with and without GLIBC_TUNABLES=glibc.malloc.hugetlb=1
# and the ratio is taken against the faster of the two; the GEMM floor of a training step is
# 47 GFLOP / the cblas_sgemm rate measured in this run. Exits non-zero only if it could not run.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

PAIRS=${1:-${BENCH_PAIRS:-5}}
THREADS=${BENCH_THREADS:-"1 2"}
CASES=${BENCH_CASES:-train,forward,ddim,sgemm,conv}
REPS=${BENCH_REPS:-}
KSTARS=${BENCH_KSTAR:-64}
BUILD=${BENCH_BUILD_DIR:-build}
PY=/usr/bin/python3
die() { echo "bench_vs_torch: $*" >&2; exit 1; }
[[ "$PAIRS" =~ ^[1-9][0-9]*$ ]] || die "pairs must be a positive integer, got '$PAIRS'"
for c in ${CASES//,/ }; do
  case "$c" in train|forward|ddim|sgemm|conv|cdm_step|ict_step|cdm_baseline_rss) ;;
    *) die "unknown case '$c' in BENCH_CASES" ;; esac
done
for k in ${KSTARS//,/ }; do
  [[ "$k" =~ ^[1-9][0-9]*$ ]] && ((k <= 1000)) || die "BENCH_KSTAR values must be integers in 1..1000, got '$k'"
done
[ -x "$PY" ] || die "$PY not found"

# ---- PyTorch: Debian's python3-torch, installed only when missing and only as root ----
HAVE_TORCH=1
if ! "$PY" -c 'import torch' 2>/dev/null; then
  SUDO=""
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO="sudo -n"; fi
  fi
  if [ "$(id -u)" = 0 ] || [ -n "$SUDO" ]; then
    echo "bench_vs_torch: installing python3-torch (apt-get)" >&2
    $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq python3-torch >&2
  else
    echo "bench_vs_torch: PyTorch is not importable and there is no root to install python3-torch" >&2
  fi
  if ! "$PY" -c 'import torch' 2>/dev/null; then
    HAVE_TORCH=0
    echo "bench_vs_torch: no PyTorch: timing difflab only" >&2
  fi
fi

# ---- difflab: Release build of the one target ----
if [ ! -f "$BUILD/build.ninja" ]; then
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >&2 || die "cmake failed"
fi
ninja -C "$BUILD" bench_vs_torch >&2 || die "ninja -C $BUILD bench_vs_torch failed (needs Google Benchmark found by CMake, libbenchmark-dev)"
DL="$BUILD/bench/bench_vs_torch"
[ -x "$DL" ] || die "$DL was not built"

# Benchmark commands only: no core-type override, the same thread count on every knob.
bench_env() {  # threads [hugetlb]
  local e=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE -u GLIBC_TUNABLES -u BENCH_KSTAR
           OMP_NUM_THREADS="$1" OPENBLAS_NUM_THREADS="$1")
  [ "${2:-}" = hugetlb ] && e+=(GLIBC_TUNABLES=glibc.malloc.hugetlb=1)
  printf '%s\n' "${e[@]}"
}
run_one() {  # side variant threads case pair [kstar] -> appends "side variant pair json" to $RESULTS
  local side=$1 variant=$2 t=$3 c=$4 p=$5 k=${6:-} cmd line
  mapfile -t cmd < <(bench_env "$t" "$variant")
  if [ "$side" = difflab ]; then cmd+=("$DL"); else cmd+=("$PY" bench/torch_reference.py); fi
  cmd+=("$c" --threads "$t")
  [ -n "$REPS" ] && cmd+=(--reps "$REPS")
  [ -n "$k" ] && cmd+=(--kstar "$k")
  if line=$("${cmd[@]}" 2>"$TMP/err" | tail -n 1) && [[ "$line" == "{"* ]]; then
    printf '%s\t%s\t%s\t%s\n' "$side" "$variant" "$p" "$line" >>"$RESULTS"
    printf '  %-7s %-7s t=%s %-7s pair %s: %s ms\n' "$side" "$variant" "$t" "$c${k:+ K*=$k}" "$p" \
      "$("$PY" -c 'import json,sys; print("%.1f" % json.loads(sys.argv[1])["median_ms"])' "$line")" >&2
  else
    echo "  $side $variant t=$t $c${k:+ K*=$k} pair $p FAILED: $(tail -n 3 "$TMP/err")" >&2
  fi
}

TMP=$(mktemp -d) || die "mktemp failed"
trap 'rm -rf "$TMP"' EXIT
RESULTS=$TMP/results.tsv
: >"$RESULTS"

# ---- header (these runs also warm the page cache for both sides) ----
mapfile -t E1 < <(bench_env 1)
echo "== bench_vs_torch $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "load average (uptime): $(uptime | sed 's/.*load average: //')"
echo "libblas alternative:"
update-alternatives --display libblas.so.3-x86_64-linux-gnu 2>/dev/null | sed -n '1,3s/^/  /p' || echo "  (update-alternatives failed)"
echo "difflab: $("${E1[@]}" "$DL" info --threads 1)"
if [ "$HAVE_TORCH" = 1 ]; then
  echo "torch:   $("${E1[@]}" "$PY" bench/torch_reference.py info --threads 1)"
fi
echo "environment for the timed commands: OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE unset; OMP_NUM_THREADS = OPENBLAS_NUM_THREADS = threads"
echo "pairs $PAIRS (one process per side per pair, after in-process warm-up), threads: $THREADS, cases: $CASES, reps: ${REPS:-per case}"
[[ ",${CASES// /,}," == *,cdm_baseline_rss,* ]] && echo "cdm_baseline_rss K*: $KSTARS (one process per K*)"

# ---- A B A B: difflab, then PyTorch plain and with hugetlb (their order alternating) ----
# cdm_baseline_rss runs once per K* in BENCH_KSTAR (passed as --kstar); the other cases once.
for t in $THREADS; do
  for c in ${CASES//,/ }; do
    if [ "$c" = cdm_baseline_rss ]; then ks=${KSTARS//,/ }; else ks=-; fi
    for k in $ks; do
      [ "$k" = - ] && k=""
      echo "-- threads $t, case $c${k:+, K* $k}" >&2
      for ((p = 0; p < PAIRS; ++p)); do
        run_one difflab plain "$t" "$c" "$p" "$k"
        if [ "$HAVE_TORCH" = 1 ]; then
          if ((p % 2 == 0)); then order="plain hugetlb"; else order="hugetlb plain"; fi
          for v in $order; do run_one torch "$v" "$t" "$c" "$p" "$k"; done
        fi
      done
    done
  done
done

# ---- the table ----
"$PY" - "$RESULTS" <<'EOF'
import json, statistics as st, sys
from collections import defaultdict
rows = defaultdict(dict)  # (threads, case, K* or 0) -> {(side, variant): {pair: record}}
for line in open(sys.argv[1]):
    side, variant, pair, js = line.rstrip("\n").split("\t", 3)
    r = json.loads(js)
    rows[(r["threads"], r["case"], r.get("kstar", 0))].setdefault((side, variant), {})[int(pair)] = r
MiB = 1 / 2**20
med = lambda rs, k: st.median(r[k] for r in rs.values()) if rs else None
mx = lambda rs, k: max(r[k] for r in rs.values()) if rs else None
fmt = lambda v, f="%.1f": "n/a" if v is None else f % v
order = ["train", "forward", "ddim", "sgemm", "conv", "cdm_step", "ict_step", "cdm_baseline_rss"]
label = lambda c, k: "%s K*=%d" % (c, k) if k else c
cw = max([8] + [len(label(c, k)) for (_, c, k) in rows])  # the case column: 8 for the first five
line_fmt = "%-3s %-" + str(cw) + "s %10s %10s %10s %-8s %-22s %9s %9s %9s"
sgemm_rate = {}  # threads -> cblas GFLOP/s of this run (sgemm case, else the train processes')
for (t, c, _), d in rows.items():
    if c == "sgemm" and ("difflab", "plain") in d:
        sgemm_rate[t] = med(d[("difflab", "plain")], "sgemm_gflops")
for (t, c, _), d in rows.items():
    if c == "train" and t not in sgemm_rate and ("difflab", "plain") in d:
        sgemm_rate[t] = med(d[("difflab", "plain")], "sgemm_gflops")
print("\n== results (medians over pairs of each process's median; ratio = difflab / torch per pair)")
print(line_fmt % ("thr", "case", "difflab", "torch", "torch+hp", "ref", "ratio med [min-max]",
                  "dl alloc", "dl RSS", "torch RSS"))
print(line_fmt % ("", "", "ms", "ms", "ms", "", "", "MiB peak", "MiB peak", "MiB peak"))
notes, start = [], ([], [])
for (t, c, k) in sorted(rows, key=lambda key: (key[0], order.index(key[1]), key[2])):
    d = rows[(t, c, k)]
    dl = d.get(("difflab", "plain"), {})
    tp, th = d.get(("torch", "plain"), {}), d.get(("torch", "hugetlb"), {})
    mp, mh = med(tp, "median_ms"), med(th, "median_ms")
    ref, rs = None, {}
    if mp is not None or mh is not None:
        ref = "plain" if mh is None or (mp is not None and mp <= mh) else "hugetlb"
        rs = tp if ref == "plain" else th
    ratios = [dl[p]["median_ms"] / rs[p]["median_ms"] for p in dl if p in rs]
    rtxt = "%.2f [%.2f-%.2f]" % (st.median(ratios), min(ratios), max(ratios)) if ratios else "n/a"
    trss = mx(rs, "peak_rss_bytes")
    print(line_fmt % (
        t, label(c, k), fmt(med(dl, "median_ms")), fmt(mp), fmt(mh), ref or "-", rtxt,
        fmt(mx(dl, "allocator_peak_bytes") and mx(dl, "allocator_peak_bytes") * MiB),
        fmt(mx(dl, "peak_rss_bytes") and mx(dl, "peak_rss_bytes") * MiB),
        fmt(trss and trss * MiB)))
    if c == "sgemm" and dl:
        notes.append("t=%s sgemm 1024: difflab matmul %.0f GFLOP/s = %.0f%% of cblas_sgemm %.0f GFLOP/s "
                     "(same process); torch.matmul %s GFLOP/s" % (
                         t, med(dl, "matmul_gflops"), med(dl, "pct_of_cblas"),
                         med(dl, "sgemm_gflops"), fmt(med(rs, "sgemm_gflops"), "%.0f")))
    if c == "conv" and dl:
        notes.append("t=%s conv fwd+bwd: difflab %.0f GFLOP/s, torch %s GFLOP/s" % (
            t, med(dl, "gflops"), fmt(med(rs, "gflops"), "%.0f")))
    if c == "train" and dl and sgemm_rate.get(t):
        floor = 47.0 / sgemm_rate[t] * 1e3
        tm = med(rs, "median_ms")
        notes.append("t=%s GEMM floor of a training step: 47 GFLOP / %.0f GFLOP/s = %.0f ms; "
                     "achieved: difflab %.2f, torch %s (47 GFLOP counts the 3x3 convolutions "
                     "directly; difflab's Winograd path multiplies less, so it can pass 1)" % (
                         t, sgemm_rate[t], floor, floor / med(dl, "median_ms"),
                         fmt(tm and floor / tm, "%.2f")))
    if c == "cdm_baseline_rss" and dl:
        dr = mx(dl, "peak_rss_bytes")
        tr = [v for v in (mx(tp, "peak_rss_bytes"), mx(th, "peak_rss_bytes")) if v]
        notes.append("t=%s cdm_baseline_rss K*=%d peak RSS: difflab %.1f MiB, torch %s MiB "
                     "(the lower variant's); difflab at most PyTorch's: %s" % (
                         t, k, dr * MiB, fmt(tr and min(tr) * MiB),
                         ("yes" if dr <= min(tr) else "no") if tr else "n/a"))
    if dl:
        start[0].append(med(dl, "start_rss_bytes"))
        if rs:
            start[1].append(med(rs, "start_rss_bytes"))
print("ref: the faster PyTorch variant (median), against which the ratio is taken; "
      "torch+hp = GLIBC_TUNABLES=glibc.malloc.hugetlb=1")
for n in notes:
    print("  " + n)
if start[0]:
    print("  process RSS before any case is built (part of the peaks above): difflab %.0f MiB, "
          "torch %s MiB (after import torch)" % (st.median(start[0]) * MiB,
                                                 fmt(start[1] and st.median(start[1]) * MiB, "%.0f")))
EOF
echo "load average at the end: $(uptime | sed 's/.*load average: //')"
exit 0
