#!/usr/bin/env bash
# Checks DESIGN.md's dependency graph (scripts/check_includes.sh), the file-size
# budget (about 600 lines per source file) and the function-length budget in experiments/
# (100 lines; elsewhere the longest functions are only reported). Run by ctest as the `layout` test.
set -uo pipefail
cd "$(dirname "$0")/.."
fail=0
bash scripts/check_includes.sh . || fail=1
budget=${DIFFLAB_LINE_BUDGET:-650}
# One wc for all files (one per file took seconds); sed drops wc's "total" line.
while read -r n f; do
  if [ "$n" -gt "$budget" ]; then
    echo "size: $f has $n lines (budget $budget): split it by purpose"
    fail=1
  fi
done < <(git ls-files -z -co --exclude-standard -- '*.h' '*.cpp' '*.cu' '*.cuh' '*.py' '*.sh' |
           wc -l --files0-from=- | sed '$d')
# Function lengths, from the signature's first line to the closing brace (heuristic parse, see
# scripts/function_lengths.py): one "LINES<TAB>FILE<TAB>LINE<TAB>NAME" row per function, longest first.
fn_budget=${DIFFLAB_FUNCTION_BUDGET:-100}
if ! fns=$(git ls-files -co --exclude-standard -- '*.h' '*.cpp' '*.cu' '*.cuh' |
             /usr/bin/python3 scripts/function_lengths.py); then
  echo "function: scripts/function_lengths.py failed"
  fail=1
fi
while IFS=$'\t' read -r n f line name; do
  if [[ $f == experiments/* && $n -gt $fn_budget ]]; then
    echo "function: $f:$line $name has $n lines (budget $fn_budget): split it"
    fail=1
  fi
done <<< "$fns"
echo "longest functions elsewhere (reported, not checked):"
awk -F'\t' '$2 !~ /^experiments\// && shown++ < 5 { printf "  %s:%s %s has %s lines\n", $2, $3, $4, $1 }' <<< "$fns"
[ $fail -eq 0 ] && echo "layout: layering, file sizes and function lengths OK"
exit $fail
