"""Cost and synthetic checks of DynaSeg's ResNet-18 + FPN network and DCN's region classification.

    OMP_NUM_THREADS=1 python benchmarks/bench_resnet_regions.py [--repeat 5] [--quality]

No pretrained weights can be downloaded on this project's machines, so the ResNet-18 is the
architecture of ``microsoft/resnet-18`` randomly initialised (``pretrained=False``; the same
cost as the pretrained weights) and the DINO ViT is a random model of ViT-S/8's size saved
and loaded back through :class:`~skdynaguide.family.embedding.DINOEmbedder`. Prints median wall
times over the repeats of:

* one training step at 25,000 pixels (astronaut resized to 321×481, the BSD500 size) of the
  small CNN and of ``ResNetFPN`` with 1 to 4 stages, trained or with a frozen backbone;
* embedding the regions of a 321×481 image (Felzenszwalb segments) with the colour/texture
  statistics and with the ViT-S/8-sized DINO model.

With ``--quality`` it also runs the synthetic checks quoted in ``docs/family.rst``: the
four-quadrant image segmented with each network (several seeds), and region classification
of a synthetic dataset whose images are segmented one by one with DynaGuide and then given
shared class ids, scored by dataset-level Hungarian mIoU over repeated k-means runs.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from skimage import data
from skimage.transform import resize

from skdynaguide import DynaGuideSegmenter, RegionClassifier, ResNetFPN, repeated_scores
from skdynaguide.family.embedding import ColourTextureEmbedder, DINOEmbedder
from skdynaguide.guidance import FelzenszwalbGuidance
from skdynaguide.metrics import hungarian_miou
from skdynaguide.training.network import DynaGuideNet
from skdynaguide.training import training_shape

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from helpers import make_quadrants  # noqa: E402


def _median_seconds(function, repeat):
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), result


def _step_time(net, x, repeat):
    net.train()
    optimizer = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=0.1,
                                momentum=0.9)

    def step():
        optimizer.zero_grad()
        response = net(x)
        F.cross_entropy(response, response.argmax(1)).backward()
        optimizer.step()

    step()  # warm-up
    return _median_seconds(step, repeat)[0]


def networks(repeat):
    image = resize(data.astronaut(), (321, 481), anti_aliasing=True).astype(np.float32)
    h, w = training_shape(321, 481, 25000)
    x = torch.from_numpy(image.transpose(2, 0, 1).copy())[None]
    x = F.interpolate(x, size=(h, w), mode="bilinear", antialias=True)
    torch.manual_seed(0)
    rows = [("cnn (DynaGuideNet)", DynaGuideNet())]
    for stages in (1, 2, 3, 4):
        for freeze in (False, True):
            builder = ResNetFPN(pretrained=False, stages=stages, freeze_backbone=freeze)
            rows.append((f"resnet18-fpn stages={stages} freeze={freeze}", builder(100, 100)))
    print(f"one training step at {h}x{w} (p = q = 100):")
    for name, net in rows:
        trainable = sum(p.numel() for p in net.parameters() if p.requires_grad)
        seconds = _step_time(net, x, repeat)
        print(f"  {name:38s} {trainable / 1e6:6.3f} M trainable parameters  {seconds:.3f} s")


def embedders(repeat):
    from transformers import ViTConfig, ViTModel

    image = resize(data.astronaut(), (321, 481), anti_aliasing=True).astype(np.float32)
    regions = FelzenszwalbGuidance()(image)
    colour = ColourTextureEmbedder()
    t_colour, features = _median_seconds(lambda: colour.embed(image, regions), repeat)
    print(f"region embedding of 321x481 with {regions.max() + 1} Felzenszwalb regions:")
    print(f"  colour/texture statistics: {t_colour:.3f} s ({features.shape[1]} values per region)")
    with tempfile.TemporaryDirectory() as path:
        # ViT-S/8: 384 wide, 12 layers, 6 heads (facebook/dino-vits8's configuration)
        config = ViTConfig(hidden_size=384, num_hidden_layers=12, num_attention_heads=6,
                           intermediate_size=1536, image_size=224, patch_size=8)
        torch.manual_seed(0)
        ViTModel(config, add_pooling_layer=False).save_pretrained(path)
        dino = DINOEmbedder(checkpoint=path, local_files_only=True, device="cpu")
        dino.embed(image, regions)  # load once
        t_dino, features = _median_seconds(lambda: dino.embed(image, regions), repeat)
    print(f"  DINO ViT-S/8-sized, shorter side 224 (28x42 patches): {t_dino:.3f} s "
          f"({features.shape[1]} values per region)")


def quadrant_quality(seeds=(0, 1, 2)):
    image, truth = make_quadrants(32, 32)
    print("four quadrants (32x32), Hungarian mIoU over seeds "
          f"{list(seeds)}, p = 32, q = 16, 60 steps:")
    for name, network in (("cnn", "cnn"), ("resnet18-fpn (random init)",
                                           ResNetFPN(pretrained=False))):
        for guidance in ("kmeans", None):
            scores, counts = [], []
            for seed in seeds:
                seg = DynaGuideSegmenter(network=network, guidance=guidance, n_features=32,
                                         n_clusters=16, max_iter=60, random_state=seed)
                labels = seg.fit_predict(image)
                scores.append(hungarian_miou(truth, labels))
                counts.append(seg.n_labels_)
            print(f"  {name:28s} guidance={str(guidance):7s} mIoU "
                  f"{np.round(scores, 3).tolist()} segments {counts}")


PALETTE = np.array([[0.85, 0.15, 0.1], [0.15, 0.75, 0.2], [0.1, 0.2, 0.85], [0.95, 0.85, 0.1],
                    [0.5, 0.5, 0.5]])


def synthetic_dataset(n_images=12, size=(48, 64), noise=0.15, seed=0):
    """Images of 4 rectangles in 4 of 5 palette colours, Gaussian noise; the colour is the class."""
    rng = np.random.default_rng(seed)
    images, truths = [], []
    for _ in range(n_images):
        h, w = size
        cut_r, cut_c = rng.integers(h // 4, 3 * h // 4), rng.integers(w // 4, 3 * w // 4)
        colours = rng.choice(len(PALETTE), 4, replace=False)
        truth = np.empty(size, dtype=np.int64)
        truth[:cut_r, :cut_c], truth[:cut_r, cut_c:] = colours[0], colours[1]
        truth[cut_r:, :cut_c], truth[cut_r:, cut_c:] = colours[2], colours[3]
        image = PALETTE[truth] + rng.normal(0, noise, size + (3,))
        images.append(np.clip(image, 0, 1))
        truths.append(truth)
    return images, truths


def _majority(maps, truths):
    """Each region labelled with its most frequent true class: the best any region labelling does."""
    out = []
    for labels, truth in zip(maps, truths):
        best = {r: np.bincount(truth[labels == r]).argmax() for r in np.unique(labels)}
        out.append(np.vectorize(best.get)(labels))
    return out


def region_quality(n_repeats=5):
    from skimage.color import rgb2lab
    from sklearn.cluster import KMeans

    images, truths = synthetic_dataset()
    seg = DynaGuideSegmenter(n_features=32, n_clusters=16, max_iter=60, random_state=0)
    start = time.perf_counter()
    maps = seg.fit_predict(images)
    per_image = time.perf_counter() - start
    accumulated = dict(accumulate=True)
    print(f"synthetic dataset: {len(images)} images 48x64, 4 of 5 palette colours each, noise "
          f"sigma 0.15; DynaGuide (p = 32, q = 16, 60 steps, k-means guidance) per image "
          f"({per_image / len(images):.2f} s each), "
          f"{np.mean([m.max() + 1 for m in maps]):.1f} segments per image on average")
    print(f"  DynaGuide's per-image ids: dataset-level Hungarian mIoU "
          f"{hungarian_miou(truths, maps, **accumulated):.4f} (per image: "
          f"{hungarian_miou(truths, maps):.4f}); its regions labelled by their majority true "
          f"class (the ceiling): {hungarian_miou(truths, _majority(maps, truths), **accumulated):.4f}")
    runs = (
        ("colour, area-weighted", RegionClassifier(n_classes=5, random_state=0), maps),
        ("colour, per region", RegionClassifier(n_classes=5, area_weighted=False,
                                                random_state=0), maps),
        ("colour, n_init=1", RegionClassifier(n_classes=5, n_init=1, random_state=0), maps),
        ("colour moments only", RegionClassifier(
            n_classes=5, embedder=ColourTextureEmbedder(histogram_weight=0, texture_weight=0),
            random_state=0), maps),
        ("colour, true regions", RegionClassifier(n_classes=5, random_state=0), truths),
    )
    for name, model, label_maps in runs:
        start = time.perf_counter()
        scores = repeated_scores(model, images, label_maps, truths, n_repeats=n_repeats)
        seconds = time.perf_counter() - start
        print(f"  RegionClassifier {name:22s} {scores} [{seconds:.2f} s]")
    pixels = np.concatenate([rgb2lab(im).reshape(-1, 3) for im in images])
    scores = []
    for seed in range(n_repeats):
        flat = KMeans(5, n_init=10, random_state=seed).fit_predict(pixels)
        labels = np.split(flat, np.cumsum([t.size for t in truths])[:-1])
        scores.append(hungarian_miou(
            truths, [lab.reshape(t.shape) for lab, t in zip(labels, truths)], **accumulated))
    print(f"  pixel k-means on Lab over the dataset (no regions): mIoU {np.mean(scores):.4f} ± "
          f"{np.std(scores, ddof=1):.4f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quality", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    networks(args.repeat)
    embedders(args.repeat)
    if args.quality:
        quadrant_quality()
        region_quality()


if __name__ == "__main__":
    main()
