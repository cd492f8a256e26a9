"""How much could a better grouping of the guide's regions gain? An annotator-made grouping.

    python benchmarks/bench_grouping.py --data-root ../shared/data --split val --limit 20
        [--guides felzenszwalb,oracle8] [--snap 2] [--seed 0]

The default output of :class:`~skdynaguide.DynaGuideSegmenter` is a grouping of the
connected pieces of its guide snapped onto the image's edges (``snap``): each piece goes
whole to one segment. Its region score is therefore limited twice: by the pieces (a
boundary no piece draws cannot be found) and by the grouping (which pieces belong
together). This script separates the two. For every guide it scores:

* ``pieces``: the snapped guide's connected pieces themselves (``snap_to_edges``, then
  connected components);
* ``pieces, min_size``: the guide drawn as the default output draws it, as its own
  clustering (:func:`~skdynaguide.output.segments.output_segments` with the segmenter's default
  ``min_size``, ``snap`` and ``keep_edges``);
* ``annotator's grouping``: for each annotation separately, every piece joins the
  annotation's segment that covers most of it, and the result is scored against that
  annotation alone. This is the grouping the annotator would make of these pieces, an
  estimate (not a strict bound: best overlap can sometimes gain from adding a piece that
  is mostly outside a segment) of the best score any grouping of them can reach.

Scores: best-overlap mIoU (All / Fine / Coarse / Mean, pooled over images as
:func:`~skdynaguide.metrics.bsds_best_overlap`), and segments per image. The ``oracleN``
guides are scored against the annotators they were not made from, as in
``bench_refine.py``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_bsds import load_split  # noqa: E402
from bench_refine import DEFAULT_OUTPUT, KEYS, make_guide  # noqa: E402

from skdynaguide.metrics import relabel_connected, segment_best_overlap  # noqa: E402
from skdynaguide.metrics.scores import _pool_bsds  # noqa: E402
from skdynaguide.output.segments import output_segments  # noqa: E402
from skdynaguide.output.snapping import snap_to_edges  # noqa: E402


def annotator_grouping(pieces, annotation):
    """Each piece of ``pieces`` labelled with the segment of ``annotation`` covering most of it.

    >>> annotator_grouping(np.array([[0, 0, 1, 2]]), np.array([[5, 5, 5, 6]])).tolist()
    [[5, 5, 5, 6]]
    """
    n_pieces = int(pieces.max()) + 1
    values, ids = np.unique(annotation, return_inverse=True)
    counts = np.bincount(pieces.ravel() * len(values) + ids.ravel(),
                         minlength=n_pieces * len(values)).reshape(n_pieces, len(values))
    return values[counts.argmax(1)][pieces]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", required=True, help="folder holding bsds500/")
    parser.add_argument("--split", default="val", choices=["train", "val", "test"])
    parser.add_argument("--limit", type=int, default=None, help="first N images only")
    parser.add_argument("--guides", default="felzenszwalb,oracle8",
                        help="comma-separated guides, as bench_refine.py (default: %(default)s)")
    parser.add_argument("--snap", type=int, default=DEFAULT_OUTPUT["snap"],
                        help="band in pixels of the snapped guide (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="random_state of the guides")
    args = parser.parse_args(argv)
    if args.snap < 0:
        parser.error(f"--snap must be >= 0 pixels, got {args.snap}")
    data = load_split(args.data_root, args.split, args.limit)
    output = {**DEFAULT_OUTPUT, "snap": args.snap}
    print(f"# BSD500 {args.split}: {len(data)} images, guides snapped by {args.snap} px; "
          "best-overlap mIoU (raw labels), segments per image")
    print("\n| guide | output | All | Fine | Coarse | Mean | segments |\n|" + "---|" * 7)
    for guide_name in (g.strip() for g in args.guides.split(",") if g.strip()):
        rows = {"pieces": ([], []), "pieces, min_size": ([], []),
                "annotator's grouping": ([], [])}
        for _, image, annotations in data:
            guide, truth = make_guide(guide_name, image, annotations, args.seed)
            pieces = relabel_connected(snap_to_edges(image, guide, args.snap))
            drawn = output_segments(image, guide, guide, **output)
            for name, maps in (("pieces", [pieces] * len(truth)),
                               ("pieces, min_size", [drawn] * len(truth)),
                               ("annotator's grouping",
                                [annotator_grouping(pieces, a) for a in truth])):
                rows[name][0].append([segment_best_overlap(a, m) for a, m in zip(truth, maps)])
                rows[name][1].append(np.mean([len(np.unique(relabel_connected(m)))
                                              for m in maps]))
        for name, (ious, segments) in rows.items():
            s = _pool_bsds(ious)  # pooled as bsds_best_overlap pools
            print(f"| {guide_name} | {name} | " + " | ".join(f"{s[k]:.3f}" for k in KEYS)
                  + f" | {np.mean(segments):.0f} |")


if __name__ == "__main__":
    main()
