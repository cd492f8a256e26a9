"""Check ``skdynaguide.metrics.bsds_edges`` against the BSDS500 benchmark's own MATLAB output.

The BSDS500 code ships a small test set in ``BSR/bench/data`` (also redistributed in
pyEdgeEval's repository under ``data/BSDS500_bench``): five soft boundary maps
(``png/``), their human annotations (``groundTruth/*.mat``) and, in ``test_2/``, what the
MATLAB ``boundaryBench`` printed for them with 5 thresholds. This script scores the same
maps with this library and prints both side by side::

    python benchmarks/check_bsds_benchmark.py --bench-dir path/to/BSR/bench/data

It also reports whether the annotations' ``Boundaries`` equal this library's ground truth
(``seg2bmap`` of the ``Segmentation``, thinned) pixel for pixel. The data are not in this
repository; point ``--bench-dir`` at a copy.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.io import loadmat
from skimage.morphology import thin

from skdynaguide.metrics.bsds_edges import (boundary_pr_counts, bsds_ods_ois_ap,
                                            bsds_thresholds, seg_to_boundaries)


def read_annotations(path):
    """Segmentations and precomputed boundaries of one BSDS500 ``groundTruth`` file."""
    cells = loadmat(path)["groundTruth"][0]
    segs = [c["Segmentation"][0, 0].astype(np.int32) for c in cells]
    boundaries = [c["Boundaries"][0, 0].astype(bool) for c in cells]
    return segs, boundaries


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bench-dir", required=True,
                        help="folder with groundTruth/, png/ and test_2/ of BSR/bench/data")
    parser.add_argument("--thresholds", type=int, default=5,
                        help="must match the reference run (test_2 used 5)")
    args = parser.parse_args(argv)
    root = Path(args.bench_dir)
    names = sorted(p.stem for p in (root / "png").glob("*.png"))
    if not names:
        raise SystemExit(f"no png/*.png maps under {root}")

    counts, same, total = [], 0, 0
    for name in names:
        segs, boundaries = read_annotations(root / "groundTruth" / f"{name}.mat")
        for seg, bdry in zip(segs, boundaries):
            same += bool(np.array_equal(thin(seg_to_boundaries(seg)), bdry))
            total += 1
        prob = np.asarray(Image.open(root / "png" / f"{name}.png"), dtype=np.float64) / 255
        counts.append(boundary_pr_counts(prob, segs, thresholds=args.thresholds)[0])
    print(f"{len(names)} images; annotations whose Boundaries equal thinned seg2bmap: "
          f"{same}/{total}")

    thresholds = bsds_thresholds(args.thresholds)
    summed = np.sum(counts, axis=0).astype(np.float64)
    reference = np.loadtxt(root / "test_2" / "eval_bdry_thr.txt", ndmin=2)
    print("\nper threshold       recall            precision          F")
    print("threshold     ours   BSDS code      ours   BSDS code      ours   BSDS code")
    for t, (cnt_p, sum_p, cnt_r, sum_r), ref in zip(thresholds, summed, reference):
        r, p = cnt_r / sum_r, cnt_p / max(sum_p, 1)
        f = 2 * p * r / max(p + r, 1e-12)
        print(f"{t:9.4f}  {r:7.4f}  {ref[1]:9.4f}  {p:8.4f}  {ref[2]:9.4f}  "
              f"{f:8.4f}  {ref[3]:9.4f}")

    scores = bsds_ods_ois_ap(counts, thresholds)
    ref = np.loadtxt(root / "test_2" / "eval_bdry.txt").ravel()
    print("\nsummary   ours   BSDS code")
    for name, ours, theirs in (("ODS", scores["ods"], ref[3]), ("OIS", scores["ois"], ref[6]),
                               ("AP", scores["ap"], ref[7])):
        print(f"{name:7s} {ours:6.4f}  {theirs:9.4f}")


if __name__ == "__main__":
    main()
