"""Paired per-image comparison of benchmark rows written by ``bench_bsds.py --per-image``.

For every pair ``A-B`` the score difference is taken image by image (same images, same
seed), which removes the spread between images that dominates an unpaired comparison::

    python benchmarks/paired.py benchmarks/out/*_images.csv \\
        --pairs "dynaguide+kmeans-kmeans,dynaguide+kmeans-dynaseg-fsf"

prints, per pair and score (raw and connected-component best-overlap Mean), the mean
difference, its standard error, and on how many images A is ahead.
"""
from __future__ import annotations

import argparse
import csv
import math
from collections import defaultdict


def load(paths):
    """{method: {(image, seed): row}} from one or more per-image CSV files."""
    table = defaultdict(dict)
    for path in paths:
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                table[row["method"]][(row["image"], row["seed"])] = row
    return table


def compare(table, a, b, key):
    """(mean difference, standard error, wins of a, images) of ``a - b`` on ``key``."""
    shared = sorted(set(table[a]) & set(table[b]))
    if not shared:
        raise SystemExit(f"{a} and {b} share no images")
    diffs = [float(table[a][k][key]) - float(table[b][k][key]) for k in shared]
    n = len(diffs)
    mean = sum(diffs) / n
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1)) if n > 1 else float("nan")
    return mean, sd / math.sqrt(n), sum(d > 0 for d in diffs), n


def split_pair(text, methods):
    """``"A-B"`` -> (A, B), where method names may themselves contain '-'."""
    for i, char in enumerate(text):
        if char == "-" and text[:i] in methods and text[i + 1:] in methods:
            return text[:i], text[i + 1:]
    raise SystemExit(f"cannot read {text!r} as A-B with A, B among {sorted(methods)}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", nargs="+", help="per-image CSV files of bench_bsds.py")
    parser.add_argument("--pairs", required=True, help="comma-separated A-B method pairs")
    args = parser.parse_args(argv)
    table = load(args.csv)
    print("| A − B | images | raw Mean Δ ± s.e. | A ahead | CC Mean Δ ± s.e. | A ahead |")
    print("|---|---|---|---|---|---|")
    for text in filter(None, (p.strip() for p in args.pairs.split(","))):
        a, b = split_pair(text, table)
        raw = compare(table, a, b, "raw_mean")
        cc = compare(table, a, b, "cc_mean")
        print(f"| {a} − {b} | {raw[3]} | {raw[0]:+.3f} ± {raw[1]:.3f} | {raw[2]} "
              f"| {cc[0]:+.3f} ± {cc[1]:.3f} | {cc[2]} |")


if __name__ == "__main__":
    main()
