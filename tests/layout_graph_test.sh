#!/usr/bin/env bash
# The include check must fail on a planted include across the graph (matching/ into nn/, nn/ into
# diffusion/) and pass on the same tree without it; run by ctest as layout_graph_refuses_a_planted_include.
set -uo pipefail
check="$(dirname "$0")/../scripts/check_includes.sh"
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
mkdir -p "$t/matching" "$t/nn" "$t/diffusion"
printf '#include "diffusion/schedule.h"\n#include <vector>\n' > "$t/matching/ok.cpp"
bash "$check" "$t" > "$t/clean.log" || { echo "FAIL: a clean tree was refused"; cat "$t/clean.log"; exit 1; }
printf '#include "nn/module.h"\n' > "$t/matching/bad.cpp"
printf '  #include "diffusion/schedule.h"\n' > "$t/nn/bad.h"
if bash "$check" "$t" > "$t/planted.log"; then echo "FAIL: planted includes passed"; exit 1; fi
cat "$t/planted.log"
grep -q 'matching/bad.cpp:1 includes nn/' "$t/planted.log" || { echo "FAIL: matching -> nn not named"; exit 1; }
grep -q 'nn/bad.h:1 includes diffusion/' "$t/planted.log" || { echo "FAIL: nn -> diffusion not named"; exit 1; }
echo "planted includes refused, each named"
