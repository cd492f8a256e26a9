"""Cost of the family members' extra pieces on a BSD500-sized photograph (one image).

    OMP_NUM_THREADS=1 python benchmarks/bench_family.py [--repeat 5] [--quality]

The image is ``skimage.data.astronaut()`` resized to 321×481, the BSD500 size. Prints the
median wall time over the repeats of:

* ``FCMGuidance()`` (IL2Vseg's colour cue) on the whole image, and of its two stages;
* one forward + backward of ``ModularityLoss`` (DCN) on features and responses of the
  estimator's default size (p = q = 100, 25,000 training pixels);
* the silhouette phase (DynaSeg) on the first-iteration features of the default network;
* for reference, one training step of the default network at 25,000 pixels.

With ``--quality`` it also prints the synthetic checks quoted in ``docs/family.rst``
(quadrant images, several seeds; about a minute): FCM on noisy quadrants, the modularity
term without guidance, scribbles joining quadrants, the silhouette floor against collapse,
and the silhouette counts on three ``skimage.data`` photographs.
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from skimage import data
from skimage.color import rgb2lab
from skimage.transform import resize

from skdynaguide import DynaGuideSegmenter
from skdynaguide.guidance.fcm import FCMGuidance, colour_propagate, spatial_fcm
from skdynaguide.losses import ModularityLoss
from skdynaguide.metrics import hungarian_miou
from skdynaguide.training.network import DynaGuideNet
from skdynaguide.training.silhouette import silhouette_count
from skdynaguide.training import training_shape


def _median_seconds(fn, repeat):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), out


def quality():
    """The synthetic checks of docs/family.rst, printed one line each."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from helpers import make_quadrants

    warnings.simplefilter("ignore")
    image, truth = make_quadrants()
    seeds = range(8)

    big, big_truth = make_quadrants(40, 48)
    for seed in range(3):
        noisy = np.clip(big + np.random.default_rng(seed).normal(0, 60, big.shape), 0, 255)
        noisy = noisy.astype(np.uint8)
        scores = [hungarian_miou(big_truth, FCMGuidance(n_clusters=4, random_state=0, **kw)(noisy))
                  for kw in (dict(spatial_weight=0.0, sigma=None), dict(sigma=None), {})]
        print(f"FCM, noisy quadrants (noise 60, seed {seed}): Hungarian mIoU plain FCM "
              f"{scores[0]:.3f}, spatial {scores[1]:.3f}, spatial + colour propagation "
              f"{scores[2]:.3f}")

    fast = dict(n_features=16, n_clusters=12, guidance=None)
    for weight in (0.0, 1.0, 5.0):
        scores = [hungarian_miou(truth, DynaGuideSegmenter(
            **fast, max_iter=60, modularity_weight=weight, random_state=s).fit_predict(image))
            for s in range(3)]
        print(f"modularity_weight={weight}: unguided quadrants, 60 steps, Hungarian mIoU "
              f"{np.mean(scores):.3f} (seeds 0-2: {', '.join(f'{x:.2f}' for x in scores)})")

    blocks = [(slice(3, 13), slice(3, 13)), (slice(3, 13), slice(19, 29)),
              (slice(19, 29), slice(3, 13)), (slice(19, 29), slice(19, 29))]

    def joined(labels):
        same = [len(np.unique(np.concatenate([labels[a].ravel(), labels[b].ravel()]))) == 1
                for a, b in ((blocks[0], blocks[1]), (blocks[2], blocks[3]))]
        return all(same) and labels[blocks[0]][0, 0] != labels[blocks[2]][0, 0]

    strokes = np.full((32, 32), -1)
    strokes[6, 2:30], strokes[25, 2:30] = 7, 3
    for params in (dict(n_features=16, n_clusters=12, max_iter=40),
                   dict(n_features=48, n_clusters=48, max_iter=40)):
        runs = [(joined(DynaGuideSegmenter(guidance=None, random_state=s, **params)
                        .fit_predict(image, scribbles=strokes)),
                 joined(DynaGuideSegmenter(guidance=None, random_state=s, **params)
                        .fit_predict(image))) for s in seeds]
        print(f"scribbles joining top / bottom quadrants {params}: joined in "
              f"{sum(r[0] for r in runs)}/{len(runs)} seeds with scribbles, "
              f"{sum(r[1] for r in runs)}/{len(runs)} without")

    collapsing = dict(fast, continuity="l1", weighting=50.0, max_iter=60)
    for silhouette in (False, True):
        fits = [DynaGuideSegmenter(**collapsing, silhouette=silhouette, silhouette_range=(2, 6),
                                   random_state=s).fit(image) for s in range(4)]
        print(f"silhouette={silhouette}, mu=50 on quadrants: segments "
              f"{[f.n_labels_ for f in fits]}, steps {[f.n_iter_ for f in fits]}, "
              f"silhouette_k_ {[f.silhouette_k_ for f in fits]}")

    for name in ("astronaut", "coffee", "chelsea"):
        counts = [DynaGuideSegmenter(guidance=None, silhouette=True, max_iter=1, random_state=s)
                  .fit(getattr(data, name)()).silhouette_k_ for s in range(3)]
        print(f"silhouette phase on skimage.data.{name}() at 25,000 pixels: k = {counts}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quality", action="store_true", help="also run the synthetic checks")
    args = parser.parse_args(argv)
    image = resize(data.astronaut(), (321, 481), anti_aliasing=True).astype(np.float32)

    provider = FCMGuidance(random_state=0)
    total, labels = _median_seconds(lambda: provider(image), args.repeat)
    lab = rgb2lab(image)
    t_fcm, (u, _, n_iter) = _median_seconds(lambda: spatial_fcm(lab, 8, random_state=0),
                                            args.repeat)
    t_prop, _ = _median_seconds(
        lambda: colour_propagate(u.reshape(-1, u.shape[-1]), lab.reshape(-1, 3), 10.0),
        args.repeat)
    print(f"FCMGuidance() on 321x481: {total:.3f} s (fuzzy c-means {t_fcm:.3f} s, {n_iter} "
          f"iterations; colour propagation {t_prop:.3f} s); {labels.max() + 1} segments")

    h, w = training_shape(321, 481, 25000)
    x = torch.from_numpy(image.transpose(2, 0, 1).copy())[None]
    x = F.interpolate(x, size=(h, w), mode="bilinear", antialias=True)
    torch.manual_seed(0)
    net = DynaGuideNet().train()
    store = {}
    net.response.register_forward_pre_hook(lambda module, inputs: store.update(f=inputs[0]))
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)

    def step():
        optimizer.zero_grad()
        response = net(x)
        F.cross_entropy(response, response.argmax(1)).backward()
        optimizer.step()

    t_step, _ = _median_seconds(step, args.repeat)
    response = net(x)
    features = store["f"].detach().requires_grad_()
    response = response.detach().requires_grad_()
    loss = ModularityLoss()
    generator = torch.Generator().manual_seed(0)
    t_mod, _ = _median_seconds(lambda: loss(features, response, generator).backward(),
                               args.repeat)
    flat = features.detach()[0].flatten(1).T.numpy()
    t_sil, (k, _) = _median_seconds(lambda: silhouette_count(flat, (2, 10), 2000, 0),
                                    args.repeat)
    print(f"default network at {h}x{w}: one training step {t_step:.3f} s; modularity loss "
          f"(1024 samples) forward+backward {t_mod:.3f} s; silhouette phase (k = 2..10, "
          f"2000 samples) {t_sil:.3f} s, picks k = {k}")
    if args.quality:
        quality()


if __name__ == "__main__":
    main()
