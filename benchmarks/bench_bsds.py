"""Side-by-side quality and speed of the segmenters on BSD500-format data.

    python benchmarks/bench_bsds.py --data-root ../shared/data --split val [--limit N]
        [--methods a,b] [--variant NAME:p=v,...] [--seeds 0,1,2] [--csv F] [--figure F.png]

Expects ``DATA_ROOT/bsds500/SPLIT/images/<id>.jpg`` and ``DATA_ROOT/bsds500/SPLIT/gt/<id>.npz``
(key ``seg``: every human annotation, shape (n_annotators, H, W)). For every method it prints
the best-overlap mIoU of the BSD500 protocol (All / Fine / Coarse / Mean, SPEC §3), on the
raw labels and after connected-component relabelling, Segmentation Covering, boundary F
(2 px), the mean number of segments and the seconds per image (guidance included, on this machine, one image at a time). With several
``--seeds`` each figure is the mean ± standard deviation over the seeds.
"""
from __future__ import annotations

import argparse
import csv
import sys
import warnings
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.exceptions import ConvergenceWarning

from skdynaguide import DynaGuideSegmenter, evaluate
from skdynaguide.guidance import resolve_guidance
from skdynaguide.metrics import bsds_best_overlap, boundary_fscore, segmentation_covering

KEYS = ("all", "fine", "coarse", "mean")


def load_split(root, split, limit=None, start=0):
    """[(id, uint8 image, [annotation maps])] of a BSD500-format split, sorted by id.

    The images from position ``start`` on (0-based, in id order), at most ``limit`` of them.
    """
    base = Path(root) / "bsds500" / split
    ids = sorted(p.stem for p in (base / "images").glob("*.jpg"))
    if not ids:
        raise SystemExit(f"no images under {base / 'images'}")
    data = []
    stop = None if limit is None else start + limit
    for image_id in ids[start:stop]:
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

    def predict(self, image):
        return self.provider(image, random_state=self.random_state)


def methods(args, seed):
    """name -> factory of a fresh segmenter with predict(image)."""
    common = dict(random_state=seed)
    if args.max_iter is not None:
        common["max_iter"] = args.max_iter
    if args.max_pixels is not None:
        common["max_pixels"] = None if args.max_pixels <= 0 else args.max_pixels
    fast = dict(max_pixels=DynaGuideSegmenter().max_pixels, max_iter=DynaGuideSegmenter().max_iter)
    table = {
        "felzenszwalb": lambda: GuideAlone("felzenszwalb", seed),
        "slic": lambda: GuideAlone("slic", seed),
        "kmeans": lambda: GuideAlone("kmeans", seed),
        "fcm": lambda: GuideAlone("fcm", seed),
        "dfc": lambda: DynaGuideSegmenter.from_preset("dfc", **{**fast, **common}),
        "dynaseg-fsf": lambda: DynaGuideSegmenter.from_preset("dynaseg-fsf", **{**fast, **common}),
        "dynaseg-scf": lambda: DynaGuideSegmenter.from_preset("dynaseg-scf", **{**fast, **common}),
        "dynaguide-unguided": lambda: DynaGuideSegmenter(guidance=None, **common),
        "dynaguide+felzenszwalb": lambda: DynaGuideSegmenter(guidance="felzenszwalb", **common),
        "dynaguide+slic": lambda: DynaGuideSegmenter(guidance="slic", **common),
        "dynaguide+kmeans": lambda: DynaGuideSegmenter(guidance="kmeans", **common),
        "dynaguide+fcm": lambda: DynaGuideSegmenter(guidance="fcm", **common),
        "dynaguide-paper": lambda: DynaGuideSegmenter.from_preset("dynaguide-paper", **common),
        # the default on its boundary hierarchy, the same without its network, the guide
        # alone, and the default of the release before hierarchies
        "hierarchy": lambda: GuideAlone("hierarchy", seed),
        "dynaguide": lambda: DynaGuideSegmenter(**common),
        "dynaguide-guide-only": lambda: DynaGuideSegmenter(network_weight=0.0, **common),
        "dynaguide-before": lambda: DynaGuideSegmenter(
            guidance="felzenszwalb", output="redraw", boundaries=None, **common),
    }
    return table


DEFAULT_METHODS = ("felzenszwalb", "slic", "kmeans", "fcm", "dfc", "dynaseg-fsf",
                   "dynaseg-scf", "dynaguide-unguided", "dynaguide+felzenszwalb",
                   "dynaguide+slic", "dynaguide+kmeans", "dynaguide+fcm")


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
    """Scores of one method on the data: a dict of figures, and the predictions."""
    images = [image for _, image, _ in data]
    annotations = [a for _, _, a in data]
    result = evaluate(factory(), images, annotations, protocol="bsds")
    cc = bsds_best_overlap(annotations, result.labels, relabel=True)
    per_image = [
        dict(image=image_id, raw_mean=bsds_best_overlap(a, labels)["mean"],
             cc_mean=bsds_best_overlap(a, labels, relabel=True)["mean"],
             covering=segmentation_covering(a, labels), boundary_f=boundary_fscore(a, labels),
             segments=r["n_segments"], seconds=r["seconds"])
        for (image_id, _, a), labels, r in zip(data, result.labels, result.per_image)
    ]
    row = dict(
        **{f"raw_{k}": result.summary[k] for k in KEYS},
        **{f"cc_{k}": cc[k] for k in KEYS},
        covering=result.summary["covering"],
        boundary_f=float(np.mean([r["boundary_f"] for r in per_image])),
        segments=float(np.mean([r["n_segments"] for r in result.per_image])),
        seconds=result.summary["seconds_per_image"],
    )
    return row, result.labels, per_image


def combine(name, rows):
    """One table row from the rows of several seeds: means, and standard deviations."""
    out = dict(method=name, n_seeds=len(rows))
    for key in rows[0]:
        values = np.array([r[key] for r in rows])
        out[key], out[f"{key}_std"] = float(values.mean()), float(values.std())
    return out


def figure(path, data, predictions, n_images):
    """A grid of overlays: the first ``n_images`` images (rows) by method (columns)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from skdynaguide.plotting import overlay

    names = list(predictions)
    n_images = min(n_images, len(data))
    fig, axes = plt.subplots(n_images, len(names) + 1, squeeze=False,
                             figsize=(2.2 * (len(names) + 1), 1.8 * n_images))
    for i in range(n_images):
        image_id, image, _ = data[i]
        axes[i, 0].imshow(image)
        axes[i, 0].set_title(image_id if i == 0 else "", fontsize=7)
        for j, name in enumerate(names, start=1):
            axes[i, j].imshow(overlay(image, predictions[name][i]))
            if i == 0:
                axes[i, j].set_title(name, fontsize=7)
    for ax in axes.ravel():
        ax.set_axis_off()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def markdown(rows):
    head = ("| method | All | Fine | Coarse | Mean | CC All | CC Fine | CC Coarse | CC Mean "
            "| Covering | BF | segments | s/image |")
    lines = [head, "|" + "---|" * 13]
    for r in rows:
        def cell(key):
            text = f"{r[key]:.3f}"
            return text + (f" ± {r[key + '_std']:.3f}" if r["n_seeds"] > 1 else "")

        cells = [r["method"]] + [cell(f"raw_{k}") for k in KEYS] + [cell(f"cc_{k}") for k in KEYS]
        cells += [cell("covering"), cell("boundary_f")]
        cells += [f"{r['segments']:.0f}", f"{r['seconds']:.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", required=True, help="folder holding bsds500/")
    parser.add_argument("--split", default="val", choices=["train", "val", "test"])
    parser.add_argument("--limit", type=int, default=None, help="first N images only")
    parser.add_argument("--start", type=int, default=0, help="skip the first N images in id "
                        "order (with --limit 1, one image per run: slow rows survive a cut)")
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
    parser.add_argument("--seeds", default="0", help="comma-separated random_state values; "
                        "several give mean ± std (default: %(default)s)")
    parser.add_argument("--csv", default=None, help="also write the rows as CSV here")
    parser.add_argument("--per-image", default=None, help="also write every image's scores "
                        "(best-overlap Mean raw and CC, segments, seconds) as CSV here, for "
                        "paired comparisons (benchmarks/paired.py)")
    parser.add_argument("--figure", default=None, help="also draw overlays of the first "
                        "images by method into this PNG (needs matplotlib)")
    parser.add_argument("--figure-images", type=int, default=3, help="rows of that figure")
    args = parser.parse_args(argv)

    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    names = [m.strip() for m in args.methods.split(",") if m.strip() and m.strip() != "none"]
    variants = dict(parse_variant(text) for text in args.variant)
    names += list(variants)

    def factories(seed):
        table = methods(args, seed)
        for name, params in variants.items():
            table[name] = (lambda p: lambda: DynaGuideSegmenter(**{"random_state": seed, **p}))(params)
        return table

    unknown = sorted(set(names) - set(factories(0)))
    if unknown:
        parser.error(f"unknown methods {unknown}; choose from {sorted(factories(0))}")
    if args.start < 0:
        parser.error(f"--start must be >= 0, got {args.start}")
    data = load_split(args.data_root, args.split, args.limit, args.start)
    print(f"# BSD500 {args.split}: {len(data)} images, seeds {seeds}; best-overlap mIoU "
          "(raw labels | connected components)", flush=True)
    warnings.simplefilter("ignore", ConvergenceWarning)
    rows, predictions, image_rows = [], {}, []
    for name in names:
        per_seed = []
        for seed in seeds:
            row, labels, per_image = run(name, factories(seed)[name], data)
            per_seed.append(row)
            image_rows += [dict(method=name, seed=seed, **r) for r in per_image]
            predictions.setdefault(name, labels)
        rows.append(combine(name, per_seed))
        r = rows[-1]
        print(f"{name:24s} raw {r['raw_mean']:.3f}  cc {r['cc_mean']:.3f}  "
              f"{r['seconds']:.1f} s/image", file=sys.stderr, flush=True)
    print(markdown(rows))
    if args.figure:
        figure(args.figure, data, predictions, args.figure_images)
    for path, table in ((args.csv, rows), (args.per_image, image_rows)):
        if path:
            with open(path, "w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=list(table[0]))
                writer.writeheader()
                writer.writerows(table)


if __name__ == "__main__":
    main()
