"""
=================================
Segmenting a folder with the CLI
=================================

The ``skdynaguide`` command segments image files and folders and writes, per image,
``<stem>_labels.png`` (the exact label values, 8- or 16-bit) and ``<stem>_overlay.png``
(colours over the photo, boundaries in white)::

    skdynaguide segment photos/ -o segmented/ --max-iter 30 --max-pixels 4000

Existing outputs are skipped unless ``--overwrite``; the exit status is 0 when every image
was segmented, 1 when some failed (listed at the end) and 2 for a usage error. Every
estimator parameter has a flag: ``skdynaguide segment --help``.

This example calls the same entry point from Python (``main(argv)`` takes the command's
arguments and returns its exit status) on a temporary folder of two photos, then scores
saved predictions with ``skdynaguide evaluate``.
"""
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from PIL import Image
from skimage import data

from skdynaguide.cli import main

work = Path(tempfile.mkdtemp())
photos = work / "photos"
photos.mkdir()
Image.fromarray(data.coffee()).save(photos / "coffee.jpg")
Image.fromarray(data.astronaut()).save(photos / "astronaut.png")

status = main(["segment", str(photos), "-o", str(work / "segmented"), "--max-iter", "30",
               "--max-pixels", "4000", "--seed", "0", "--quiet"])
print("exit status:", status)
print(sorted(p.name for p in (work / "segmented").iterdir()))

fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
for ax, stem in zip(axes, ("astronaut", "coffee")):
    labels = np.asarray(Image.open(work / "segmented" / f"{stem}_labels.png"))
    ax.imshow(Image.open(work / "segmented" / f"{stem}_overlay.png"))
    ax.set_title(f"{stem}_overlay.png ({labels.max() + 1} labels)")
    ax.set_axis_off()
fig.tight_layout()

# %%
# Scoring saved predictions
# -------------------------
# ``skdynaguide evaluate PRED_DIR GT_DIR --protocol bsds|hungarian|hungarian-accumulated``
# pairs ``<stem>_labels.png`` with the ground truth ``<stem>.*`` (a label image, ``.npy``,
# ``.npz`` with key ``seg`` holding several annotations, or a BSD500 ``.mat``). Here the
# ground truth of a synthetic image of four colour quadrants is known.
truth = np.zeros((64, 64), dtype=np.uint8)
truth[:32, 32:], truth[32:, :32], truth[32:, 32:] = 1, 2, 3
colours = np.array([[200, 40, 40], [40, 200, 40], [40, 40, 200], [220, 220, 60]])
rng = np.random.default_rng(0)
quadrants = np.clip(colours[truth] + rng.normal(0, 20, (64, 64, 3)), 0, 255).astype(np.uint8)
(work / "synthetic").mkdir()
(work / "truth").mkdir()
Image.fromarray(quadrants).save(work / "synthetic" / "quadrants.png")
Image.fromarray(truth).save(work / "truth" / "quadrants.png")

main(["segment", str(work / "synthetic"), "-o", str(work / "pred"), "--max-iter", "30",
      "--guidance", "kmeans", "--seed", "0", "--quiet"])
status = main(["evaluate", str(work / "pred"), str(work / "truth"), "--protocol", "hungarian"])
print("exit status:", status)
