#!/usr/bin/env bash
# Checks that every include between difflab's layers follows DESIGN.md's graph:
#   tensor <- autograd <- {nn, diffusion}; diffusion <- matching; experiments and python use all.
# nn, diffusion and matching never include each other except matching -> diffusion (networks
# reach diffusion and matching only as callables). Usage: check_includes.sh [ROOT] (default:
# the repository); exits 1 naming each include the graph forbids. The libraries' link lines
# (CMakeLists.txt) enforce the same graph on calls.
set -uo pipefail
root=${1:-"$(dirname "$0")/.."}
declare -A may=(
  [tensor]="tensor"
  [autograd]="tensor autograd"
  [nn]="tensor autograd nn"
  [diffusion]="tensor autograd diffusion"
  [matching]="tensor autograd diffusion matching"
  [experiments]="tensor autograd nn diffusion matching experiments"
  [python]="tensor autograd nn diffusion matching experiments python"
)
project=" tensor autograd nn diffusion matching experiments python tests fuzz bench "
fail=0
for dir in "${!may[@]}"; do
  [ -d "$root/$dir" ] || continue
  while IFS=: read -r file line target; do
    [[ -n "$file" && $project == *" $target "* ]] || continue  # <nlohmann/...> and friends
    if [[ " ${may[$dir]} " != *" $target "* ]]; then
      echo "layering: ${file#"$root"/}:$line includes $target/ (the graph lets $dir/ include: ${may[$dir]})"
      fail=1
    fi
  done < <(grep -rnoE '^\s*#\s*include\s*"[a-z_]+/' "$root/$dir" --include='*.h' --include='*.cpp' \
             --include='*.cu' --include='*.cuh' |
           sed -E 's/^([^:]*):([0-9]+):.*"([a-z_]+)\/$/\1:\2:\3/')
done
[ $fail -eq 0 ] && echo "includes: every layer includes only what DESIGN.md's graph allows"
exit $fail
