#!/usr/bin/env python3
"""Compares two safetensors files: tensors (names, dtypes, shapes, bytes) and metadata entries.

Usage: compare_safetensors.py A B   Prints 'identical' (byte for byte), 'tensors identical' with
the metadata keys that differ, or the first tensor that differs; exit 0 only if the tensors match.
"""
import json
import struct
import sys


def read(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    meta = header.pop("__metadata__", {})
    tensors = {k: (v["dtype"], v["shape"], data[v["data_offsets"][0]:v["data_offsets"][1]])
               for k, v in header.items()}
    return raw, tensors, meta


def main(a, b):
    raw_a, ta, ma = read(a)
    raw_b, tb, mb = read(b)
    if raw_a == raw_b:
        print("identical")
        return 0
    if ta.keys() != tb.keys():
        print("tensor names differ:", sorted(ta.keys() ^ tb.keys()))
        return 1
    for k in sorted(ta):
        if ta[k] != tb[k]:
            print("tensor differs:", k)
            return 1
    diff = sorted(k for k in ma.keys() | mb.keys() if ma.get(k) != mb.get(k))
    print("tensors identical; metadata differs in:", ", ".join(diff))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
