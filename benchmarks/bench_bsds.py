"""Side-by-side quality and speed of the segmenters on BSD500-format data.

    python benchmarks/bench_bsds.py --data-root ../shared/data --split val [--limit N]

Expects ``DATA_ROOT/bsds500/SPLIT/images/<id>.jpg`` and ``DATA_ROOT/bsds500/SPLIT/gt/<id>.npz``
(key ``seg``: every human annotation, shape (n_annotators, H, W)). For every method it prints
the best-overlap mIoU of the BSD500 protocol (All / Fine / Coarse / Mean, SPEC §3), on the
raw labels and after connected-component relabelling, the mean number of segments and the
seconds per image (guidance included, on this machine, one image at a time).
"""
from __future__ import annotations

import argparse
import csv
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.exceptions import ConvergenceWarning

from skdynaguide import DynaGuideSegmenter
from skdynaguide.guidance import resolve_guidance
from skdynaguide.metrics import bsds_best_overlap

KEYS = ("all", "fine", "coarse", "mean")


def load_split(root, split, limit=None):
    """[(id, uint8 image, [annotation maps])] of a BSD500-format split, sorted by id."""
    base = Path(root) / "bsds500" / split
    ids = sorted(p.stem for p in (base / "images").glob("*.jpg"))
    if not ids:
        raise SystemExit(f"no images under {base / 'images'}")
    data = []
    for image_id in ids[:limit]:
        with Image.open(base / "images" / f"{image_id}.jpg") as im:
            image = np.asarray(im.convert("RGB"), dtype=np.uint8).copy()
        with np.load(base / "gt" / f"{image_id}.npz") as z:
            annotations = [a.astype(np.int64) for a in z["seg"]]
        data.append((image_id, image, annotations))
    return data


class GuideAlone:
    """A guidance provider used on its own, as a segmenter (a baseline row)."""

    def __init__(self, name, random_state):
        self.provider = resolve_guidance(name)
        self.random_state = random_state

    def fit_predict(self, image):
        return self.provider(image, random_state=self.random_state)


def methods(args):
    """name -> factory of a fresh segmenter with fit_predict(image)."""
    common = dict(random_state=args.seed)
    if args.max_iter is not None:
        common["max_iter"] = args.max_iter
    if args.max_pixels is not None:
        common["max_pixels"] = None if args.max_pixels <= 0 else args.max_pixels
    fast = dict(max_pixels=DynaGuideSegmenter().max_pixels, max_iter=DynaGuideSegmenter().max_iter)
    table = {
        "felzenszwalb": lambda: GuideAlone("felzenszwalb", args.seed),
        "slic": lambda: GuideAlone("slic", args.seed),
        "kmeans": lambda: GuideAlone("kmeans", args.seed),
        "dfc": lambda: DynaGuideSegmenter.from_preset("dfc", **{**fast, **common}),
        "dynaseg-fsf": lambda: DynaGuideSegmenter.from_preset("dynaseg-fsf", **{**fast, **common}),
        "dynaseg-scf": lambda: DynaGuideSegmenter.from_preset("dynaseg-scf", **{**fast, **common}),
        "dynaguide-unguided": lambda: DynaGuideSegmenter(guidance=None, **common),
        "dynaguide+felzenszwalb": lambda: DynaGuideSegmenter(guidance="felzenszwalb", **common),
        "dynaguide+slic": lambda: DynaGuideSegmenter(guidance="slic", **common),
        "dynaguide+kmeans": lambda: DynaGuideSegmenter(guidance="kmeans", **common),
        "dynaguide-paper": lambda: DynaGuideSegmenter.from_preset("dynaguide-paper", **common),
    }
    return table


DEFAULT_METHODS = ("felzenszwalb", "slic", "kmeans", "dfc", "dynaseg-fsf", "dynaseg-scf",
                   "dynaguide-unguided", "dynaguide+felzenszwalb", "dynaguide+slic",
                   "dynaguide+kmeans")


def parse_variant(text):
    """``NAME:param=value,param=value`` -> (NAME, {param: value}) for DynaGuideSegmenter."""
    import ast

    name, _, spec = text.partition(":")
    params = {}
    for item in filter(None, spec.split(",")):
        key, _, value = item.partition("=")
        try:
            params[key.strip()] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            params[key.strip()] = value.strip()  # a bare word: a string such as "kmeans"
    return name.strip(), params


def run(name, factory, data):
    predictions, seconds = [], []
    for _, image, _ in data:
        segmenter = factory()
        start = time.perf_counter()
        predictions.append(np.asarray(segmenter.fit_predict(image)))
        seconds.append(time.perf_counter() - start)
    annotations = [a for _, _, a in data]
    raw = bsds_best_overlap(annotations, predictions)
    cc = bsds_best_overlap(annotations, predictions, relabel=True)
    return dict(
        method=name,
        **{f"raw_{k}": raw[k] for k in KEYS},
        **{f"cc_{k}": cc[k] for k in KEYS},
        segments=float(np.mean([p.max() + 1 for p in predictions])),
        seconds=float(np.median(seconds)),
    )


def markdown(rows):
    head = ("| method | All | Fine | Coarse | Mean | CC All | CC Fine | CC Coarse | CC Mean "
            "| segments | s/image |")
    lines = [head, "|" + "---|" * 11]
    for r in rows:
        cells = [r["method"]] + [f"{r[f'raw_{k}']:.3f}" for k in KEYS]
        cells += [f"{r[f'cc_{k}']:.3f}" for k in KEYS]
        cells += [f"{r['segments']:.0f}", f"{r['seconds']:.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", required=True, help="folder holding bsds500/")
    parser.add_argument("--split", default="val", choices=["train", "val", "test"])
    parser.add_argument("--limit", type=int, default=None, help="first N images only")
    parser.add_argument("--methods", default=",".join(DEFAULT_METHODS),
                        help="comma-separated names, or 'none' (default: %(default)s; also "
                        "dynaguide-paper)")
    parser.add_argument("--max-iter", type=int, default=None, help="override for every method")
    parser.add_argument("--max-pixels", type=int, default=None,
                        help="override for every method (0: full resolution)")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME:P=V,...",
                        help="an extra row: the default DynaGuideSegmenter with these "
                        "parameters changed, e.g. 'index:matching=index,guidance_weight=1' "
                        "(repeatable; values are Python literals or bare strings)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--csv", default=None, help="also write the rows as CSV here")
    args = parser.parse_args(argv)

    table = methods(args)
    names = [m.strip() for m in args.methods.split(",") if m.strip() and m.strip() != "none"]
    for text in args.variant:
        name, params = parse_variant(text)
        table[name] = (lambda p: lambda: DynaGuideSegmenter(**{"random_state": args.seed, **p}))(params)
        names.append(name)
    unknown = sorted(set(names) - set(table))
    if unknown:
        parser.error(f"unknown methods {unknown}; choose from {sorted(table)}")
    data = load_split(args.data_root, args.split, args.limit)
    print(f"# BSD500 {args.split}: {len(data)} images; best-overlap mIoU "
          "(raw labels | connected components)", flush=True)
    warnings.simplefilter("ignore", ConvergenceWarning)
    rows = []
    for name in names:
        rows.append(run(name, table[name], data))
        r = rows[-1]
        print(f"{name:24s} raw {r['raw_mean']:.3f}  cc {r['cc_mean']:.3f}  "
              f"{r['seconds']:.1f} s/image", file=sys.stderr, flush=True)
    print(markdown(rows))
    if args.csv:
        with open(args.csv, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


if __name__ == "__main__":
    main()
