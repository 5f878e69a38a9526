#!/usr/bin/env python3
"""Prints a Markdown table of the mode and precision/recall figures of finished run folders.

Usage: scripts/mode_table.py RUN_DIR [RUN_DIR ...]
One row per evaluation found in each run's metrics.csv (the last value of each metric): the
training's final evaluation, each `difflab eval` tag ("[ddim50]"), and a distill chain's teacher
DDIM and students ("ddim/...@N", "student/...@N"). Columns: high-quality share, modes covered,
mode-weight TV, log-density gap (held-out data minus samples), checkerboard in-squares share and
cell TV, precision, recall, MMD² at h, h/4, h/16 (data-vs-data level in brackets).
"""
import csv
import re
import sys

KEYS = ["hq_share", "modes_covered", "mode_weight_tv", "log_density", "in_squares", "square_tv",
        "precision", "recall", "mmd2_h1", "mmd2_h4", "mmd2_h16"]


def last_values(path):
    last = {}
    with open(path) as f:
        for row in csv.DictReader(f):
            last[row["metric"]] = float(row["value"])
    return last


def groups(last):
    """(label, prefix, suffix) of every evaluation that logged precision."""
    out = []
    for name in last:
        m = re.fullmatch(r"(?:(\w+)/)?precision(\[[^\]]+\]|@\d+)?", name)
        if m and "data_vs_data" not in name:
            prefix = (m.group(1) + "/") if m.group(1) else ""
            out.append((prefix + (m.group(2) or "final"), prefix, m.group(2) or ""))
    return sorted(out)


def cell(v, fmt="%.3g"):
    return "–" if v is None else fmt % v


def main(dirs):
    print("| run | evaluation | hq share | modes | weight TV | log-density gap | in squares | "
          "cell TV | precision | recall | MMD² h | MMD² h/4 | MMD² h/16 |")
    print("|" + "---|" * 13)
    for d in dirs:
        last = last_values(d + "/metrics.csv")
        data_ld = last.get("log_density_data")
        for label, prefix, suffix in groups(last):
            v = {k: last.get(prefix + k + suffix) for k in KEYS}
            gap = None if v["log_density"] is None or data_ld is None else data_ld - v["log_density"]
            mmd = []
            for k in ("mmd2_h1", "mmd2_h4", "mmd2_h16"):
                lvl = last.get(prefix + k + "_data_vs_data" + suffix, last.get(k + "_data_vs_data"))
                mmd.append(cell(v[k], "%.2e") + ("" if lvl is None else " (%.1e)" % lvl))
            print("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                d.rstrip("/").split("/")[-1], label, cell(v["hq_share"]),
                cell(v["modes_covered"], "%.0f"), cell(v["mode_weight_tv"]), cell(gap),
                cell(v["in_squares"]), cell(v["square_tv"]), cell(v["precision"]),
                cell(v["recall"]), " | ".join(mmd)))


if __name__ == "__main__":
    main(sys.argv[1:])
