"""Cuts of the boundary hierarchy, with and without the network's clusters, on BSD500.

    python benchmarks/bench_hierarchy.py --data-root ../shared/data --split val --limit 20 \\
        [--gradient-weights 0.25,0.5] [--thresholds 0.2,0.25,0.3] \\
        [--network-weights 0,0.25,0.5] [--guide-threshold 0.2] [--model FILE] [--no-network]

For every image and every ``gradient_weight`` of the learned boundary map: the hierarchy
(``skdynaguide.hierarchy``, watershed by dynamics, regions under ``min_size`` of the
default segmenter merged), one ``DynaGuideSegmenter`` fit guided by its cut at
``--guide-threshold``, and the cuts of the hierarchy informed by the fit's clusters at every
``--network-weights`` × ``--thresholds`` (network weight 0: the hierarchy's own cut, no
network). Prints best-overlap Mean (BSD500 protocol, pooled as ``evaluate`` pools it),
Segmentation Covering, boundary F (2 px) and segments per image, with Felzenszwalb
(scale 300) on the same images. ``--no-network`` skips the fits (network weight 0 only).
This is how the defaults of ``threshold``, ``network_weight`` and ``HierarchyGuidance``'s
threshold were chosen (on val).
"""
from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from skdynaguide import DynaGuideSegmenter
from skdynaguide._image import check_image, size_in_pixels
from skdynaguide.boundaries import LearnedBoundaries
from skdynaguide.guidance import PrecomputedGuidance, resolve_guidance
from skdynaguide.hierarchy import hierarchy_from_map
from skdynaguide.metrics import bsds_best_overlap, boundary_fscore, segmentation_covering

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_bsds import load_split  # noqa: E402


def floats(text):
    return [float(v) for v in text.split(",") if v.strip()]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", required=True, help="folder holding bsds500/")
    parser.add_argument("--split", default="val", choices=["train", "val", "test"])
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--model", default=None, help="boundary model file (default: shipped)")
    parser.add_argument("--gradient-weights", type=floats, default=[0.25])
    parser.add_argument("--thresholds", type=floats, default=[0.2, 0.25, 0.3])
    parser.add_argument("--network-weights", type=floats, default=[0.0, 0.25, 0.5])
    parser.add_argument("--guide-threshold", type=float, default=0.2)
    parser.add_argument("--min-size", type=float, default=None,
                        help="smallest region as a fraction of the image (default: the "
                        "segmenter's min_size)")
    parser.add_argument("--no-network", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore", ConvergenceWarning)

    data = load_split(args.data_root, args.split, args.limit, args.start)
    min_size = DynaGuideSegmenter().min_size if args.min_size is None else args.min_size
    betas = [0.0] if args.no_network else args.network_weights
    felzenszwalb = resolve_guidance("felzenszwalb")
    preds = {}  # row key -> [labels per image]
    for i, (image_id, image, annotations) in enumerate(data):
        rgb = check_image(image)
        preds.setdefault(("felzenszwalb(300)",), []).append(felzenszwalb(rgb))
        for weight in args.gradient_weights:
            prob = LearnedBoundaries(model_path=args.model, gradient_weight=weight).smooth(rgb)
            tree = hierarchy_from_map(prob, min_area=min_size)
            clusters = None
            if not args.no_network:
                guide = tree.cut(threshold=args.guide_threshold)
                clusters = DynaGuideSegmenter(guidance=PrecomputedGuidance(guide),
                                              random_state=args.seed).fit(image).clusters_
            pixels = size_in_pixels(min_size, rgb.shape[0] * rgb.shape[1])
            for beta in betas:
                informed = tree if beta == 0 else tree.informed_by(clusters, beta,
                                                                  min_area=pixels)
                for t in args.thresholds:
                    key = (f"gradient_weight={weight:g}", f"network_weight={beta:g}",
                           f"threshold={t:g}")
                    preds.setdefault(key, []).append(informed.cut(threshold=t))
        print(f"{i + 1}/{len(data)} {image_id}", file=sys.stderr, flush=True)

    truths = [a for _, _, a in data]
    print(f"# BSD500 {args.split}: {len(data)} images from {args.start}; guide threshold "
          f"{args.guide_threshold}")
    print("| map | network | cut | Mean | Covering | BF | segments |")
    print("|---|---|---|---|---|---|---|")
    for key, labels in preds.items():
        mean = bsds_best_overlap(truths, labels)["mean"]
        covering = segmentation_covering(truths, labels)
        bf = np.mean([boundary_fscore(a, p) for a, p in zip(truths, labels)])
        segments = np.mean([p.max() + 1 for p in labels])
        cells = list(key) + [""] * (3 - len(key))
        print(f"| {' | '.join(cells)} | {mean:.3f} | {covering:.3f} | {bf:.3f} | "
              f"{segments:.0f} |")


if __name__ == "__main__":
    main()
