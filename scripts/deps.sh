#!/usr/bin/env bash
# Installs the Debian packages difflab needs, only those missing; quiet when all are present.
set -euo pipefail
pkgs=(build-essential cmake ninja-build pkg-config libopenblas-openmp-dev libboost-test-dev
      libbenchmark-dev libstb-dev libcli11-dev nlohmann-json3-dev zlib1g-dev
      dataset-fashion-mnist)
[ "${DIFFLAB_WITH_TORCH:-0}" = 1 ] && pkgs+=(python3-torch)
# scripts/fuzz.sh: clang with libFuzzer and the sanitizer runtimes.
[ "${DIFFLAB_WITH_FUZZ:-0}" = 1 ] && pkgs+=(clang libclang-rt-14-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps.sh: installing ${missing[*]}"
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
