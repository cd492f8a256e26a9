"""Train the learned boundary network (``skdynaguide.boundaries.LearnedBoundaries``).

The shipped model was produced by::

    python benchmarks/train_boundaries.py --data-root ../shared/data --splits train \\
        --stem 32 --widths 48,96 --iterations 10347 \\
        --out skdynaguide/boundaries/models/boundary_net.npz

(train only, so that val stays unseen for choosing and checking what is built on it).
Recipe (after HED/RCF/PiDiNet, scaled to two CPU cores): random square crops with flips and
quarter turns; the target of a pixel is the fraction of annotators whose boundary
(``seg_to_boundaries``) passes through it, positive from ``--positive`` on, negative at 0,
ignored in between (annotators disagree by a pixel or two); class-balanced binary
cross-entropy on the fused output and every side output; Adam with a cosine schedule.
Everything random is seeded by ``--seed``. ``--synthetic`` trains on a few generated
images instead of BSD500 (a smoke test that takes seconds).
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

# Threads that sleep while waiting: on a shared machine spinning OpenMP threads slow
# training several-fold as soon as another process takes a core.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import torch
from torch.nn import functional as F

from skdynaguide.boundaries._network import (BoundaryNet, input_features, n_input_channels,
                                            save_model)
from skdynaguide.metrics.bsds_edges import seg_to_boundaries


def load_bsds(data_root, splits):
    sys.path.insert(0, str(Path(data_root).resolve()))
    from load import list_ids, load_bsds500  # the data set's own loader

    items = []
    for split in splits:
        for image_id in list_ids(split):
            image, annotations = load_bsds500(image_id, split)
            items.append((image, annotations))
    return items


def synthetic_images(n=3, shape=(48, 64), seed=0):
    """Images of random rectangles on a background, with two identical 'annotators'."""
    rng = np.random.default_rng(seed)
    items = []
    for _ in range(n):
        seg = np.zeros(shape, dtype=np.int32)
        for label in range(1, 4):
            r0, c0 = rng.integers(0, shape[0] - 12), rng.integers(0, shape[1] - 12)
            seg[r0:r0 + rng.integers(8, 20), c0:c0 + rng.integers(8, 24)] = label
        colours = rng.integers(0, 256, size=(4, 3))
        image = colours[seg].astype(np.uint8)
        items.append((image, [seg, seg.copy()]))
    return items


def prepare(items):
    """Input features and annotator-consensus targets, (C, H, W) and (H, W) float32."""
    data = []
    for image, annotations in items:
        rgb = image.astype(np.float32) / 255.0
        consensus = np.mean([seg_to_boundaries(a) for a in annotations], axis=0)
        data.append((input_features(rgb), consensus.astype(np.float32)))
    return data


def sample_batch(data, batch_size, crop, rng):
    xs, ys = [], []
    for _ in range(batch_size):
        x, y = data[rng.integers(len(data))]
        h, w = y.shape
        ch, cw = min(crop, h), min(crop, w)
        r, c = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
        xc, yc = x[:, r:r + ch, c:c + cw], y[r:r + ch, c:c + cw]
        # The gradient-magnitude channels are invariant to flips and quarter turns.
        if rng.random() < 0.5:
            xc, yc = xc[:, :, ::-1], yc[:, ::-1]
        if ch == cw:
            k = int(rng.integers(4))
            xc, yc = np.rot90(xc, k, axes=(1, 2)), np.rot90(yc, k)
        xs.append(np.ascontiguousarray(xc))
        ys.append(np.ascontiguousarray(yc))
    return torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ys))[:, None]


def balanced_bce(logits, target, positive, neg_weight=1.1):
    """Class-balanced BCE (RCF): rare positives weighted by the share of negatives."""
    pos = (target >= positive).float()
    neg = (target == 0).float()
    n_pos, n_neg = pos.sum(), neg.sum()
    total = n_pos + n_neg
    weight = pos * (n_neg / total) + neg * (neg_weight * n_pos / total)
    loss = F.binary_cross_entropy_with_logits(logits, pos.expand_as(logits),
                                              weight=weight.expand_as(logits), reduction="sum")
    return loss / logits.shape[0]


def train(data, *, iterations, batch_size, crop, lr, positive, seed, log_every=100,
          time_limit=None, stem=16, widths=(32, 48)):
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    net = BoundaryNet(in_channels=n_input_channels(), stem=stem, widths=widths)
    optimiser = torch.optim.Adam(net.parameters(), lr=lr)
    start, running, done = time.time(), 0.0, 0
    for it in range(iterations):
        # Cosine decay over the iterations, or over the time limit when that comes first
        # (then the run is no longer exactly reproducible: its record says how far it went).
        progress = it / iterations
        if time_limit is not None:
            progress = max(progress, (time.time() - start) / time_limit)
        if progress >= 1.0:
            print(f"stopped at the time limit after {done} iterations", flush=True)
            break
        for group in optimiser.param_groups:
            group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * progress))
        x, y = sample_batch(data, batch_size, crop, rng)
        logits = net(x)
        loss = balanced_bce(logits, y, positive)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        running += loss.item()
        done = it + 1
        if log_every and done % log_every == 0:
            print(f"iter {done:5d}  loss {running / log_every:8.2f}  "
                  f"{time.time() - start:6.0f} s", flush=True)
            running = 0.0
    return net.eval(), done, time.time() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", default="../shared/data")
    parser.add_argument("--splits", default="train", help="comma-separated BSD500 splits")
    parser.add_argument("--synthetic", action="store_true",
                        help="train on 3 generated 48x64 images (smoke test)")
    parser.add_argument("--out", required=True, help="model file to write (.npz)")
    parser.add_argument("--iterations", type=int, default=4000)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--crop", type=int, default=128)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--positive", type=float, default=0.3,
                        help="annotator consensus from which a pixel is a positive")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--stem", type=int, default=16, help="channels at full resolution")
    parser.add_argument("--widths", default="32,48",
                        help="channels of the 1/2 and 1/4 stages, comma-separated")
    parser.add_argument("--time-limit", type=float, default=None,
                        help="stop after this many seconds; the schedule then follows the "
                        "clock, so the run is not reproducible (for experiments only)")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    t0 = time.time()
    if args.synthetic:
        items, source = synthetic_images(), "synthetic"
    else:
        splits = [s.strip() for s in args.splits.split(",") if s.strip()]
        items, source = load_bsds(args.data_root, splits), "BSD500 " + "+".join(splits)
    data = prepare(items)
    print(f"{len(data)} images ({source}) prepared in {time.time() - t0:.0f} s", flush=True)
    net, done, seconds = train(
        data, iterations=args.iterations, batch_size=args.batch_size, crop=args.crop,
        lr=args.lr, positive=args.positive, seed=args.seed, stem=args.stem,
        widths=tuple(int(w) for w in args.widths.split(",")),
        log_every=0 if args.synthetic else 100, time_limit=args.time_limit)
    meta = {"training": {"data": source, "images": len(data), "iterations": done,
                         "batch_size": args.batch_size, "crop": args.crop, "lr": args.lr,
                         "positive": args.positive, "seed": args.seed,
                         "seconds": round(seconds), "torch": torch.__version__}}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    save_model(net, args.out, meta)
    print(f"wrote {args.out} after {done} iterations in {seconds:.0f} s", flush=True)


if __name__ == "__main__":
    main()
