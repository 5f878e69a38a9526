#!/usr/bin/env bash
# Gradient memory versus sampler depth, difflab against PyTorch (CPU).
#
# What it measures: the gradient of L = -mean(z_K) (minus the brightness of the final samples of
# a K-step DDIM sampler, eta 0, batch 8, the "MNIST-small" U-Net: 16/32/32 channels, attention in
# the middle block only) with respect to every model parameter and the initial noise z_0, for
# K = 1, 2, 4, ..., 64, computed two ways on each side:
#   full                          backprop through the whole unrolled sampler;
#   per_step (difflab) /
#   checkpoint (PyTorch)          each DDIM step checkpointed (only the states z_k kept, every
#                                 step recomputed in backward; PyTorch:
#                                 torch.utils.checkpoint.checkpoint(step, z, use_reentrant=False)).
# For each (side, K, method) it records the process's peak resident set and the median wall
# time of one gradient computation (sampling forward + backward).
#
# The peak is getrusage's ru_maxrss, a per-process high-water mark that never goes down: one
# process can report only its largest case, hence one process per (side, K, method). It includes
# everything the process ever held (for PyTorch: the interpreter and libtorch, about 240 MB before
# any tensor work), so the table also shows the growth above the resident set measured just
# before the first gradient, where a side reports it.
#
# Allocator caveat (PyTorch 1.13 with glibc malloc, measured at K <= 8): the environment passes
# through unchanged, GLIBC_TUNABLES included. With glibc's defaults, freed activations are
# partly kept by the heap, so PyTorch's checkpoint peak still grows ~6.5 MiB per step although
# its live tensors do not (malloc_trim gives that back), and the rest goes back to the OS and is
# faulted in again, which dominates small-K times. GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072
# flattens the checkpoint peak but makes every run several times slower; the defaults are what
# is measured here.
#
# Usage, from the repository root after a build (build/difflab):
#   scripts/mem_depth_vs_torch.sh
#   STEPS="1 2 4" REPEATS=2 scripts/mem_depth_vs_torch.sh
#   SIDES=pytorch STEPS="1 2 4 8" scripts/mem_depth_vs_torch.sh   # PyTorch half alone
# Environment: STEPS ("1 2 4 8 16 32 64"), SIDES ("difflab pytorch"), METHODS ("full
#   checkpoint"; checkpoint = difflab's per_step), OUT (runs/mem-depth-vs-torch), THREADS (1),
#   REPEATS (5), DIFFLAB (build/difflab).
# difflab's rows (experiments/mem_depth.cpp) carry rss_peak_bytes and rss_before_bytes (VmRSS
# before the row's first gradient) as PyTorch's lines do.
# Output: $OUT/difflab-<full|per_step>-<K>/rows.json (difflab's run directories),
#   $OUT/pytorch-<full|checkpoint>-<K>.json (one JSON line each), the table on stdout and in
#   $OUT/table.md and $OUT/table.json. Missing results show as "—"; a failed process is reported
#   on stderr and the rest goes on.
set -euo pipefail
cd "$(dirname "$0")/.."

STEPS=${STEPS:-"1 2 4 8 16 32 64"}
SIDES=${SIDES:-"difflab pytorch"}
METHODS=${METHODS:-"full checkpoint"}
OUT=${OUT:-runs/mem-depth-vs-torch}
# One thread on both sides by default: the comparison is per thread (memory does not depend on
# it much, but time does, and the two libraries scale differently with threads).
THREADS=${THREADS:-1}
REPEATS=${REPEATS:-5}
DIFFLAB=${DIFFLAB:-build/difflab}
PY=/usr/bin/python3
export OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS MKL_NUM_THREADS=$THREADS

die() { echo "mem_depth_vs_torch: $*" >&2; exit 1; }
warn() { echo "mem_depth_vs_torch: $*" >&2; }
for k in $STEPS; do [[ "$k" =~ ^[1-9][0-9]*$ ]] || die "STEPS: '$k' is not a positive integer"; done
for m in $METHODS; do
  case "$m" in full|checkpoint) ;; *) die "METHODS: unknown method '$m' (full, checkpoint)" ;; esac
done
for s in $SIDES; do
  case "$s" in difflab|pytorch) ;; *) die "SIDES: unknown side '$s' (difflab, pytorch)" ;; esac
done
[[ "$THREADS" =~ ^[1-9][0-9]*$ ]] || die "THREADS must be a positive integer"
[[ "$REPEATS" =~ ^[1-9][0-9]*$ ]] || die "REPEATS must be a positive integer"
[ -x "$PY" ] || die "$PY not found"
mkdir -p "$OUT"

run_difflab() {  # K method(full|checkpoint)
  local k=$1 m=$2 dm dir
  dm=$([ "$2" = checkpoint ] && echo per_step || echo full)
  dir="$OUT/difflab-$dm-$k"
  mkdir -p "$dir"
  rm -f "$dir/rows.json"  # never read a previous run's rows as this one's
  if "$DIFFLAB" mem-depth --run "$dir" --threads "$THREADS" --set mem.model=unet \
      --set mem.samplers=ddim --set mem.steps="$k" --set mem.methods="$dm" \
      --set mem.repeats="$REPEATS" --set mem.batch=8 --set mem.errors=false \
      >"$dir/stdout.log" 2>"$dir/stderr.log"; then
    echo "  difflab K=$k $dm: done" >&2
  else
    warn "difflab K=$k $dm FAILED: $(tail -n 3 "$dir/stderr.log")"
  fi
}

run_pytorch() {  # K method(full|checkpoint)
  local k=$1 m=$2 f="$OUT/pytorch-$2-$1.json" line
  rm -f "$f"
  if line=$("$PY" bench/mem_depth_torch.py --steps "$k" --method "$m" --batch 8 \
        --repeats "$REPEATS" --threads "$THREADS" 2>"$OUT/pytorch-$m-$k.err" | tail -n 1) &&
      [[ "$line" == "{"* ]]; then
    printf '%s\n' "$line" >"$f"
    echo "  pytorch K=$k $m: done" >&2
  else
    warn "pytorch K=$k $m FAILED: $(tail -n 3 "$OUT/pytorch-$m-$k.err")"
  fi
}

HAVE_DIFFLAB=1
if [[ " $SIDES " == *" difflab "* ]] && [ ! -x "$DIFFLAB" ]; then
  warn "$DIFFLAB not found (build first): difflab columns will be empty"
  HAVE_DIFFLAB=0
fi
for k in $STEPS; do
  for m in $METHODS; do
    for s in $SIDES; do
      if [ "$s" = difflab ]; then
        if [ "$HAVE_DIFFLAB" = 1 ]; then run_difflab "$k" "$m"; fi
      else
        run_pytorch "$k" "$m"
      fi
    done
  done
done

"$PY" - "$OUT" "$STEPS" <<'EOF'
import json, os, sys

out, steps = sys.argv[1], [int(k) for k in sys.argv[2].split()]
MIB = 1024.0 * 1024.0
DASH = "—"


def difflab_row(k, method):
    """The row of $OUT/difflab-<method>-<K>/rows.json for (K, method), or None."""
    try:
        with open(os.path.join(out, "difflab-%s-%d" % (method, k), "rows.json")) as f:
            rows = json.load(f)
    except (OSError, ValueError):
        return None
    if isinstance(rows, dict):
        rows = [rows]
    for r in rows if isinstance(rows, list) else []:
        if (isinstance(r, dict) and r.get("method") == method and r.get("steps") == k
                and r.get("sampler", "ddim") == "ddim"):
            return r
    return None


def pytorch_row(k, method):
    try:
        with open(os.path.join(out, "pytorch-%s-%d.json" % (method, k))) as f:
            return json.loads(f.read().strip().splitlines()[-1])
    except (OSError, ValueError, IndexError):
        return None


def num(row, key):
    v = None if row is None else row.get(key)
    return float(v) if isinstance(v, (int, float)) else None


def growth(row):
    peak, before = num(row, "rss_peak_bytes"), num(row, "rss_before_bytes")
    return None if peak is None or before is None else peak - before


def ratio(a, b):
    return a / b if a is not None and b is not None and b > 0 else None


def fmt(v, digits=1):
    return DASH if v is None else "%.*f" % (digits, v)


records = []
for k in steps:
    rec = {"steps": k}
    for tag, dm, pm in (("full", "full", "full"), ("per_step", "per_step", "checkpoint")):
        d, p = difflab_row(k, dm), pytorch_row(k, pm)
        dpk, ppk = num(d, "rss_peak_bytes"), num(p, "rss_peak_bytes")
        dg, pg = growth(d), growth(p)
        ds, ps = num(d, "seconds"), num(p, "seconds")
        rec[tag] = {
            "difflab_method": dm, "pytorch_method": pm,
            "difflab_rss_peak_bytes": dpk, "pytorch_rss_peak_bytes": ppk,
            "rss_peak_ratio": ratio(dpk, ppk),
            "difflab_rss_growth_bytes": dg, "pytorch_rss_growth_bytes": pg,
            "rss_growth_ratio": ratio(dg, pg),
            "difflab_seconds": ds, "pytorch_seconds": ps, "seconds_ratio": ratio(ds, ps)}
    records.append(rec)


def table(title, header, cells):
    lines = ["### " + title, "", "| " + " | ".join(header) + " |",
             "|" + "|".join("---:" for _ in header) + "|"]
    for rec in records:
        lines.append("| " + " | ".join([str(rec["steps"])] + cells(rec)) + " |")
    return lines + [""]


def triple(rec, tag, a, b, r, scale, digits):
    e = rec[tag]
    sa = None if e[a] is None else e[a] / scale
    sb = None if e[b] is None else e[b] / scale
    return [fmt(sa, digits), fmt(sb, digits), fmt(e[r], 2)]


md = ["## Gradient through a K-step DDIM sampler: difflab vs PyTorch (ratio = difflab / PyTorch)",
      ""]
md += table("Peak resident set (ru_maxrss, MiB)",
            ["K", "difflab full", "PyTorch full", "ratio", "difflab per-step",
             "PyTorch checkpoint", "ratio"],
            lambda r: triple(r, "full", "difflab_rss_peak_bytes", "pytorch_rss_peak_bytes",
                             "rss_peak_ratio", MIB, 1)
            + triple(r, "per_step", "difflab_rss_peak_bytes", "pytorch_rss_peak_bytes",
                     "rss_peak_ratio", MIB, 1))
md += table("Seconds per gradient (median)",
            ["K", "difflab full", "PyTorch full", "ratio", "difflab per-step",
             "PyTorch checkpoint", "ratio"],
            lambda r: triple(r, "full", "difflab_seconds", "pytorch_seconds", "seconds_ratio",
                             1.0, 3)
            + triple(r, "per_step", "difflab_seconds", "pytorch_seconds", "seconds_ratio",
                     1.0, 3))
md += table("Peak minus the resident set before the first gradient (MiB)",
            ["K", "difflab full", "PyTorch full", "ratio", "difflab per-step",
             "PyTorch checkpoint", "ratio"],
            lambda r: triple(r, "full", "difflab_rss_growth_bytes", "pytorch_rss_growth_bytes",
                             "rss_growth_ratio", MIB, 1)
            + triple(r, "per_step", "difflab_rss_growth_bytes", "pytorch_rss_growth_bytes",
                     "rss_growth_ratio", MIB, 1))
text = "\n".join(md)
print(text)
with open(os.path.join(out, "table.md"), "w") as f:
    f.write(text + "\n")
with open(os.path.join(out, "table.json"), "w") as f:
    json.dump(records, f, indent=1)
    f.write("\n")
EOF
