#!/usr/bin/env bash
# Checks DESIGN.md's layering (no include from a folder to one below it) and the file-size
# budget (about 600 lines per source file). Run by ctest as the `layout` test.
set -uo pipefail
cd "$(dirname "$0")/.."
layers=(tensor autograd nn diffusion matching experiments)
fail=0
for i in "${!layers[@]}"; do
  dir=${layers[$i]}
  [ -d "$dir" ] || continue
  for j in "${!layers[@]}"; do
    [ "$j" -gt "$i" ] || continue
    below=${layers[$j]}
    hits=$(grep -rnE "#include \"$below/" "$dir" --include='*.h' --include='*.cpp' --include='*.cu' --include='*.cuh' || true)
    if [ -n "$hits" ]; then
      echo "layering: $dir/ must not include $below/ (it sits below in DESIGN.md):"
      echo "$hits"
      fail=1
    fi
  done
done
budget=${DIFFLAB_LINE_BUDGET:-650}
while IFS= read -r f; do
  n=$(wc -l < "$f")
  if [ "$n" -gt "$budget" ]; then
    echo "size: $f has $n lines (budget $budget): split it by purpose"
    fail=1
  fi
done < <(git ls-files -co --exclude-standard -- '*.h' '*.cpp' '*.cu' '*.cuh' '*.py' '*.sh')
[ $fail -eq 0 ] && echo "layout: layering and file sizes OK"
exit $fail
