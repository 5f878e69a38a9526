#!/usr/bin/env bash
# Runs the five reference presets with two `difflab` binaries and compares what they wrote:
# metrics.csv byte for byte, every checkpoint tensor by tensor (scripts/compare_safetensors.py
# names any metadata entry that differs, e.g. a config key renamed on purpose).
# Usage: scripts/check_bit_identity.sh OLD_BINARY NEW_BINARY [WORK_DIR]
#   A finished WORK_DIR/old is reused, so the old binary's runs are made once.
set -euo pipefail
old=$(realpath "$1"); new=$(realpath "$2"); work=${3:-/tmp/difflab-bit-identity}
here=$(cd "$(dirname "$0")" && pwd)
runs=(ddpm:ddpm_ring ddpm:ddpm_tiny distill:tiny drift:drift_tiny flux:flux_tiny)
run_all() {  # binary, folder
  mkdir -p "$2"
  for r in "${runs[@]}"; do
    cmd=${r%%:*}; preset=${r#*:}
    case $cmd in ddpm) sub=train-ddpm ;; drift) sub=train-drift ;; flux) sub=train-flux ;;
                 *) sub=$cmd ;; esac
    [ -f "$2/$preset.done" ] && continue
    echo "== $(basename "$2"): $sub --preset $preset"
    (cd "$2" && "$1" "$sub" --preset "$preset" --run "runs/$preset" >"$preset.log" 2>&1)
    touch "$2/$preset.done"
  done
}
run_all "$old" "$work/old"
rm -rf "$work/new"
run_all "$new" "$work/new"
fail=0
while IFS= read -r f; do
  rel=${f#"$work/old/"}
  if [ ! -f "$work/new/$rel" ]; then echo "missing in new: $rel"; fail=1; continue; fi
  case $f in
    *.csv) if cmp -s "$f" "$work/new/$rel"; then echo "$rel: identical"
           else echo "$rel: DIFFERS"; fail=1; fi ;;
    *.safetensors) if out=$(/usr/bin/python3 "$here/compare_safetensors.py" "$f" "$work/new/$rel")
                   then echo "$rel: $out"; else echo "$rel: DIFFERS ($out)"; fail=1; fi ;;
  esac
done < <(find "$work/old/runs" \( -name metrics.csv -o -path '*checkpoints/*.safetensors' \) | sort)
exit $fail
