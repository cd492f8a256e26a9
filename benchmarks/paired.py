"""Paired per-image comparison of rows written by ``bench_bsds.py`` or ``bench_refine.py``.

For every pair ``A-B`` the score difference is taken image by image (same images, same
seed, same guide), which removes the spread between images that dominates an unpaired
comparison::

    python benchmarks/paired.py benchmarks/out/*_images.csv \\
        --pairs "dynaguide+kmeans-kmeans,dynaguide+kmeans-dynaseg-fsf"

prints, per pair and score, the mean difference, its standard error, and on how many
images A is ahead. The scores are the raw and connected-component best-overlap Mean,
Covering and boundary F of ``bench_bsds.py --per-image`` files, or the best-overlap Mean and boundary F of
``bench_refine.py --per-image`` files (whose rows of one guide are paired with each other).
"""
from __future__ import annotations

import argparse
import csv
import math
from collections import defaultdict


def load(paths, guide=None):
    """{method: {(image, seed or guide): row}} from one or more per-image CSV files.

    ``guide`` keeps only the rows of that guide (bench_refine files).
    """
    table = defaultdict(dict)
    for path in paths:
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                if guide is not None and row.get("guide") != guide:
                    continue
                table[row["method"]][(row["image"], row.get("seed", row.get("guide")))] = row
    return table


def score_keys(table):
    """[(title, column)] of the scores the rows hold (bench_bsds or bench_refine rows)."""
    row = next(iter(next(iter(table.values())).values()))
    if "raw_mean" in row:
        keys = [("raw Mean", "raw_mean"), ("CC Mean", "cc_mean")]
        return keys + [(title, key) for title, key in (("Covering", "covering"),
                                                       ("boundary F", "boundary_f"))
                       if key in row]
    return [("Mean", "mean"), ("BF F", "bf")]


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
    parser.add_argument("--guide", default=None,
                        help="bench_refine files: compare only the rows of this guide")
    args = parser.parse_args(argv)
    table = load(args.csv, args.guide)
    if not table:
        raise SystemExit(f"no rows of guide {args.guide!r} in {args.csv}")
    keys = score_keys(table)
    print("| A − B | images | " + " | ".join(f"{title} Δ ± s.e. | A ahead" for title, _ in keys)
          + " |")
    print("|---|---|" + "---|---|" * len(keys))
    for text in filter(None, (p.strip() for p in args.pairs.split(","))):
        a, b = split_pair(text, table)
        cells = [compare(table, a, b, key) for _, key in keys]
        print(f"| {a} − {b} | {cells[0][3]} | " + " | ".join(
            f"{mean:+.3f} ± {se:.3f} | {ahead}" for mean, se, ahead, _ in cells) + " |")


if __name__ == "__main__":
    main()
