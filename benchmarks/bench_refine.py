"""Does refinement improve its guide? Coarse and weight-free guides, alone and refined.

    python benchmarks/bench_refine.py --data-root ../shared/data --split val --limit 20
        [--guides oracle4,oracle8,kmeans,felzenszwalb] [--variant NAME:p=v,...]
        [--seed 0] [--min-sizes 0,0.0002,...] [--snaps 0,1,3]
        [--redraw NAME:min_size=V,snap=V,keep_edges=V] [--per-image F.csv] [--figure F.png]

For every image and every guide it scores the guide alone and ``DynaGuideSegmenter`` (the
defaults, or each ``--variant``'s parameters) refining that guide, given as
:class:`~skdynaguide.guidance.PrecomputedGuidance`:

* ``oracle4`` / ``oracle8``: the image's coarsest human annotation sampled every 4 px
  (SegFormer's 1/4 output grid) or 8 px (DiffSeg's 64×64 grid on a 512 input) and repeated
  back to full size: a coarse guide with the right regions. It is scored against the *other*
  annotators only, since it was made from one of them.
* any registered weight-free provider name (``kmeans``, ``felzenszwalb``, ``slic``,
  ``fcm``), computed with ``--seed`` and scored against every annotator. ``felzenszwalb``
  alone is the classical baseline.

Scores per row: best-overlap mIoU (All / Fine / Coarse / Mean, pooled over images), BSDS
boundary precision / recall / F at a 2-px tolerance (mean over images), the number of
segments per image (connected components of the output: what a person sees) and seconds per
image of the refinement. Then paired per-image differences refined − guide (mean ± standard
error, and on how many images the refinement is ahead).

``--min-sizes`` adds, for every output, rows at other segment sizes without training again:
the refinement's clusters (``clusters_``) and the guide alone, each made into connected
segments of that minimum size (:func:`~skdynaguide.output.segments.merge_small_segments`; 0 keeps
every connected component). Each refinement is then also paired with the guide alone at the
same minimum size, so that the two are compared at similar numbers of segments.

``--snaps`` adds, likewise without training again, rows for other values of the
segmenter's ``snap`` (boundaries drawn from the guide's, moved onto the image's edges within
that many pixels; 0 keeps the network's): every refinement's clusters are redrawn with
:func:`~skdynaguide.output.segments.output_segments` (``"<method> snap=S"``), and the guide alone
is snapped (:func:`~skdynaguide.output.snapping.snap_to_edges`, ``"guide alone snap=S"``), the
classical baseline for it. All are paired with the guide alone.

``--redraw NAME:param=value,...`` (repeatable) redraws every refinement's clusters with the
segmenter's output parameters (``min_size``, ``snap``, ``keep_edges``) changed, again
without training, as the row ``"<method> / NAME"``, paired with the guide alone: e.g. the
previous default's output next to the current one's, from the same training. The guide
alone is drawn the same way, from the segmenter's defaults, as its own clustering
(``"guide alone / NAME"``: made into segments of ``min_size``, snapped, and made into
segments again), the classical baseline for the redrawn rows.
"""
from __future__ import annotations

import argparse
import csv
import math
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_bsds import load_split, parse_variant  # noqa: E402

from skdynaguide import DynaGuideSegmenter  # noqa: E402
from skdynaguide.guidance import PrecomputedGuidance, resolve_guidance  # noqa: E402
from skdynaguide.output.segments import merge_small_segments, output_segments  # noqa: E402
from skdynaguide.output.snapping import snap_to_edges  # noqa: E402
from skdynaguide.metrics import (  # noqa: E402
    boundary_precision_recall_fscore,
    bsds_best_overlap,
    relabel_connected,
)

KEYS = ("all", "fine", "coarse", "mean")


def coarse_guide(annotation, step):
    """``annotation`` seen on a grid of ``step`` px (pixel centres), repeated back up.

    Examples
    --------
    >>> truth = np.repeat([[0] * 5 + [1] * 3], 4, axis=0)
    >>> coarse_guide(truth, 4)[0].tolist()
    [0, 0, 0, 0, 1, 1, 1, 1]
    """
    small = annotation[step // 2::step, step // 2::step]
    big = np.repeat(np.repeat(small, step, axis=0), step, axis=1)
    height, width = annotation.shape
    big = np.pad(big, ((0, max(0, height - big.shape[0])), (0, max(0, width - big.shape[1]))),
                 mode="edge")[:height, :width]
    return np.unique(big, return_inverse=True)[1].reshape(height, width)


def make_guide(name, image, annotations, seed):
    """(guide map, annotations to score against) for one image."""
    if name.startswith("oracle"):
        step = int(name[len("oracle"):])
        coarsest = int(np.argmin([len(np.unique(a)) for a in annotations]))
        others = [a for i, a in enumerate(annotations) if i != coarsest]
        return coarse_guide(annotations[coarsest], step), others
    return resolve_guidance(name)(image, random_state=seed), annotations


def image_scores(annotations, labels):
    """Per-image figures of one label map."""
    precision, recall, f = boundary_precision_recall_fscore(annotations, labels)
    overlap = bsds_best_overlap(annotations, labels)
    return dict(**{k: overlap[k] for k in KEYS}, bf_precision=precision, bf_recall=recall,
                bf=f, segments=int(relabel_connected(labels).max()) + 1)


def summarise(rows, annotations, predictions):
    """One table row from the per-image rows of one (guide, method)."""
    pooled = bsds_best_overlap(annotations, predictions)
    out = {k: pooled[k] for k in KEYS}
    for key in ("bf_precision", "bf_recall", "bf", "segments", "seconds"):
        out[key] = float(np.mean([r[key] for r in rows]))
    return out


def paired(a_rows, b_rows, key):
    """Mean difference a − b, its standard error and the number of images where a is ahead."""
    diffs = np.array([a[key] - b[key] for a, b in zip(a_rows, b_rows)])
    se = diffs.std(ddof=1) / math.sqrt(len(diffs)) if len(diffs) > 1 else float("nan")
    return float(diffs.mean()), float(se), int((diffs > 0).sum()), len(diffs)


def parse_min_sizes(text):
    """``"0,0.0002,100"`` -> ``[0, 0.0002, 100]``: fractions of the area or whole pixels.

    >>> parse_min_sizes("0, 0.0005,50")
    [0, 0.0005, 50]
    """
    sizes = []
    for item in (t.strip() for t in text.split(",") if t.strip()):
        value = float(item) if "." in item or "e" in item.lower() else int(item)
        if value < 0 or (isinstance(value, float) and value >= 1):
            raise ValueError(f"a minimum size is pixels (int >= 0) or a fraction in (0, 1), "
                             f"got {item!r}")
        sizes.append(value)
    return sizes


def parse_snaps(text):
    """``"0, 1,3"`` -> ``[0, 1, 3]``: values of ``snap`` in whole pixels.

    >>> parse_snaps("0, 1,3")
    [0, 1, 3]
    """
    bands = []
    for item in (t.strip() for t in text.split(",") if t.strip()):
        if not item.isdigit():
            raise ValueError(f"a snap is a whole number of pixels (>= 0), got {item!r}")
        bands.append(int(item))
    return bands


OUTPUT_PARAMS = ("min_size", "snap", "keep_edges")
DEFAULT_OUTPUT = {p: DynaGuideSegmenter().get_params()[p] for p in OUTPUT_PARAMS}


def parse_redraw(text):
    """``"NAME:min_size=0.001,keep_edges=None"`` -> (NAME, {param: value}) of output params.

    >>> parse_redraw("old:min_size=0.001,keep_edges=None")
    ('old', {'min_size': 0.001, 'keep_edges': None})
    """
    name, params = parse_variant(text)
    unknown = sorted(set(params) - set(OUTPUT_PARAMS))
    if not name or unknown:
        raise ValueError(f"expected NAME:param=value,... with params among {OUTPUT_PARAMS}, "
                         f"got {text!r}")
    return name, params


def baseline_of(method):
    """The guide-alone row a method is paired with: the one at the same minimum size.

    >>> baseline_of("default"), baseline_of("default @ 0.0002")
    ('guide alone', 'guide alone @ 0.0002')
    >>> baseline_of("default snap=3"), baseline_of("guide alone snap=3")
    ('guide alone', 'guide alone')
    """
    _, at, size = method.partition(" @ ")
    return "guide alone" + (f" @ {size}" if at else "")


def figure(path, data, guides, predictions, n_images):
    """Overlays: per image and guide, the guide alone then each refinement."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from skdynaguide.plotting import overlay

    columns = [(g, m) for g in guides for m in predictions[g]]
    n_images = min(n_images, len(data))
    fig, axes = plt.subplots(n_images, len(columns), squeeze=False,
                             figsize=(2.4 * len(columns), 1.9 * n_images))
    for i in range(n_images):
        image = data[i][1]
        for j, (g, m) in enumerate(columns):
            axes[i, j].imshow(overlay(image, predictions[g][m][i]))
            if i == 0:
                axes[i, j].set_title(f"{g}\n{m}", fontsize=7)
    for ax in axes.ravel():
        ax.set_axis_off()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", required=True, help="folder holding bsds500/")
    parser.add_argument("--split", default="val", choices=["train", "val", "test"])
    parser.add_argument("--limit", type=int, default=None, help="first N images only")
    parser.add_argument("--start", type=int, default=0, help="skip the first N images")
    parser.add_argument("--guides", default="oracle4,oracle8,kmeans,felzenszwalb",
                        help="comma-separated guides (default: %(default)s)")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME:P=V,...",
                        help="a refinement with these DynaGuideSegmenter parameters changed "
                        "(repeatable); without any, the defaults ('refined')")
    parser.add_argument("--seed", type=int, default=0, help="random_state of guides and "
                        "refinements")
    parser.add_argument("--min-sizes", default="", metavar="LIST",
                        help="also score every output's clusters made into connected segments "
                        "of these minimum sizes (comma-separated; fractions of the area or "
                        "pixels)")
    parser.add_argument("--snaps", default="", metavar="LIST",
                        help="also score every refinement redrawn with these values of snap, "
                        "and the guide alone snapped by them (comma-separated pixels)")
    parser.add_argument("--redraw", action="append", default=[], metavar="NAME:P=V,...",
                        help="also score every refinement's clusters redrawn with these output "
                        "parameters (min_size, snap, keep_edges) changed (repeatable)")
    parser.add_argument("--per-image", default=None, help="write every image's figures here")
    parser.add_argument("--figure", default=None, help="draw overlays into this PNG")
    parser.add_argument("--figure-images", type=int, default=3)
    args = parser.parse_args(argv)

    guides = [g.strip() for g in args.guides.split(",") if g.strip()]
    for g in guides:
        if not g.startswith("oracle"):
            try:
                resolve_guidance(g)
            except (TypeError, ValueError) as error:
                parser.error(f"--guides: {error}")
        elif not g[len("oracle"):].isdigit():
            parser.error(f"--guides: {g!r} must be oracleN with N the grid step in pixels")
    variants = dict(parse_variant(text) for text in args.variant) or {"refined": {}}
    try:
        min_sizes = parse_min_sizes(args.min_sizes)
    except ValueError as error:
        parser.error(f"--min-sizes: {error}")
    try:
        snaps = parse_snaps(args.snaps)
    except ValueError as error:
        parser.error(f"--snaps: {error}")
    try:
        redraws = dict(parse_redraw(text) for text in args.redraw)
    except ValueError as error:
        parser.error(f"--redraw: {error}")
    data = load_split(args.data_root, args.split, args.limit, args.start)
    print(f"# BSD500 {args.split}: {len(data)} images from #{args.start}, seed {args.seed}; "
          "best-overlap mIoU (raw labels), boundary P/R/F at 2 px, segments = connected "
          "components", flush=True)
    warnings.simplefilter("ignore", ConvergenceWarning)

    rows = {}             # (guide, method) -> per-image rows
    predictions = {}      # guide -> method -> label maps
    scored_against = {}   # guide -> per-image annotation lists
    for guide_name in guides:
        scored_against[guide_name] = []
        for image_id, image, annotations in data:
            guide, truth = make_guide(guide_name, image, annotations, args.seed)
            scored_against[guide_name].append(truth)
            outputs = {"guide alone": (guide, 0.0)}
            clusters = {"guide alone": guide}
            for method, params in variants.items():
                segmenter = DynaGuideSegmenter(**{"random_state": args.seed, **params,
                                                  "guidance": PrecomputedGuidance(guide)})
                start = time.perf_counter()
                labels = segmenter.fit_predict(image)
                outputs[method] = (labels, time.perf_counter() - start)
                clusters[method] = segmenter.clusters_
                current = {p: getattr(segmenter, p) for p in OUTPUT_PARAMS}
                for band in snaps:
                    redrawn = output_segments(image, segmenter.clusters_, guide,
                                              **{**current, "snap": band})
                    outputs[f"{method} snap={band}"] = (redrawn, outputs[method][1])
                for label, changed in redraws.items():
                    redrawn = output_segments(image, segmenter.clusters_, guide,
                                              **{**current, **changed})
                    outputs[f"{method} / {label}"] = (redrawn, outputs[method][1])
            for band in snaps:
                outputs[f"guide alone snap={band}"] = (snap_to_edges(image, guide, band), 0.0)
            for label, changed in redraws.items():
                own = {**DEFAULT_OUTPUT, **changed}
                outputs[f"guide alone / {label}"] = (output_segments(image, guide, guide, **own),
                                                     0.0)
            for size in min_sizes:
                for method, raw in clusters.items():
                    outputs[f"{method} @ {size}"] = (merge_small_segments(image, raw, size),
                                                     outputs[method][1])
            for method, (labels, seconds) in outputs.items():
                row = dict(guide=guide_name, method=method, image=image_id, seconds=seconds,
                           **image_scores(truth, labels))
                rows.setdefault((guide_name, method), []).append(row)
                predictions.setdefault(guide_name, {}).setdefault(method, []).append(labels)
            print(f"{guide_name:14s} {image_id}: " + "  ".join(
                f"{m} {rows[(guide_name, m)][-1]['mean']:.3f}/{rows[(guide_name, m)][-1]['bf']:.3f}"
                for m in outputs), file=sys.stderr, flush=True)

    print("\n| guide | method | All | Fine | Coarse | Mean | BF P | BF R | BF F | segments "
          "| s/image |\n|" + "---|" * 11)
    for (guide_name, method), per_image in rows.items():
        s = summarise(per_image, scored_against[guide_name], predictions[guide_name][method])
        print(f"| {guide_name} | {method} | " + " | ".join(f"{s[k]:.3f}" for k in KEYS)
              + f" | {s['bf_precision']:.3f} | {s['bf_recall']:.3f} | {s['bf']:.3f} | "
              f"{s['segments']:.0f} | {s['seconds']:.1f} |")
    print("\nPaired per image, refined − guide alone at the same minimum size (mean ± "
          "standard error, images ahead):\n")
    print("| guide | method | Δ Mean | ahead | Δ BF F | ahead |\n|---|---|---|---|---|---|")
    for (guide_name, method), per_image in rows.items():
        if method == baseline_of(method):
            continue
        base = rows[(guide_name, baseline_of(method))]
        cells = []
        for key in ("mean", "bf"):
            mean, se, ahead, n = paired(per_image, base, key)
            cells += [f"{mean:+.3f} ± {se:.3f}", f"{ahead}/{n}"]
        print(f"| {guide_name} | {method} | " + " | ".join(cells) + " |")
    if args.per_image:
        flat = [r for per_image in rows.values() for r in per_image]
        with open(args.per_image, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(flat[0]))
            writer.writeheader()
            writer.writerows(flat)
    if args.figure:
        figure(args.figure, data, guides, predictions, args.figure_images)


if __name__ == "__main__":
    main()
