"""Score boundary detectors with the BSDS boundary benchmark (ODS, OIS, AP, time per image).

    python benchmarks/bench_boundaries.py --data-root ../shared/data --split val \\
        --limit 100 --thresholds 99

Rows: each registered detector (``--detectors``, default all), the plain colour gradient
(Sobel on Lab, no smoothing over scales, with non-maximum suppression: a Canny-like
baseline), and ``--model`` files if given (a network trained by ``train_boundaries.py``).
Seconds per image count the detector only, not the scoring. The shipped ``"learned"`` model
was trained on the train images only, so val scores it on unseen images; a network trained
on val as well (``train_boundaries.py --splits train,val``) is scored on held-out images.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

from skdynaguide.boundaries import BoundaryDetector, LearnedBoundaries, resolve_boundaries
from skdynaguide.boundaries._features import normalised_lab
from skdynaguide.boundaries._nms import boundary_orientation, non_maximum_suppression
from skdynaguide.metrics.bsds_edges import boundary_pr_counts, bsds_ods_ois_ap


def plain_gradient(image):
    """Sobel magnitude of the Lab image (colour vector norm), thinned by NMS."""
    lab = normalised_lab(image.astype(np.float32) / 255.0)
    mag = np.sqrt(sum(ndimage.sobel(lab[..., c], axis=a) ** 2
                      for c in range(3) for a in (0, 1)))
    prob = mag / (mag + 0.1)
    return non_maximum_suppression(prob, boundary_orientation(prob))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", default="../shared/data")
    parser.add_argument("--split", default="val")
    parser.add_argument("--limit", type=int, default=None, help="first N images only")
    parser.add_argument("--thresholds", type=int, default=99)
    parser.add_argument("--detectors", default=",".join(BoundaryDetector.registry.names()))
    parser.add_argument("--model", action="append", default=[],
                        help="extra learned model file to score (repeatable)")
    parser.add_argument("--gradient-weights", default="0.25",
                        help="comma-separated gradient_weight values to score each --model "
                        "at (default: %(default)s, the detector's default)")
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args(argv)

    sys.path.insert(0, str(Path(args.data_root).resolve()))
    from load import list_ids, load_bsds500  # the data set's own loader

    ids = list_ids(args.split)[:args.limit]
    rows = {}
    if not args.no_baseline:
        rows["plain gradient (Sobel Lab + NMS)"] = plain_gradient
    for name in filter(None, args.detectors.split(",")):
        rows[name] = resolve_boundaries(name)
    for path in args.model:
        for weight in (float(w) for w in args.gradient_weights.split(",")):
            rows[f"learned {Path(path).name}, gradient_weight={weight:g}"] = LearnedBoundaries(
                model_path=path, gradient_weight=weight)

    print(f"{args.split}: {len(ids)} images, {args.thresholds} thresholds")
    print(f"{'detector':40s} {'ODS':>6s} {'OIS':>6s} {'AP':>6s} {'s/image':>8s}")
    for label, detector in rows.items():
        counts, seconds = [], 0.0
        for image_id in ids:
            image, annotations = load_bsds500(image_id, args.split)
            start = time.perf_counter()
            prob = detector(image)
            seconds += time.perf_counter() - start
            counts.append(boundary_pr_counts(prob, annotations, args.thresholds)[0])
        s = bsds_ods_ois_ap(counts)
        print(f"{label:40s} {s['ods']:6.3f} {s['ois']:6.3f} {s['ap']:6.3f} "
              f"{seconds / len(ids):8.3f}", flush=True)


if __name__ == "__main__":
    main()
