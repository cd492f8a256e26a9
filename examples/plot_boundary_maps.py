"""
=========================================
Boundary maps: colour gradient or learned
=========================================

A boundary map gives every pixel the probability that it lies on the boundary of an object.
:mod:`skdynaguide.boundaries` has two detectors behind one interface:

* ``"gradient"``: the colour gradient in Lab over three scales. It needs no weights, and it
  answers to every colour change, texture included.
* ``"learned"`` (the default): a small network, shipped with the package and trained on the
  human boundaries of BSD500, that learns which colour changes people draw as boundaries.

Both return a float32 map in [0, 1], thinned to one-pixel ridges by non-maximum suppression;
pass ``nms=False`` for the smooth map (the input of a watershed, for instance). Score maps
against human annotations with :mod:`skdynaguide.metrics.bsds_edges` (see
``benchmarks/bench_boundaries.py``).
"""
import matplotlib.pyplot as plt
from skimage import data

from skdynaguide.boundaries import resolve_boundaries

images = {"coffee": data.coffee(), "chelsea": data.chelsea()}
detectors = {name: resolve_boundaries(name) for name in ("gradient", "learned")}

fig, axes = plt.subplots(len(images), 1 + len(detectors), figsize=(12, 3.4 * len(images)))
for row, (title, image) in zip(axes, images.items()):
    row[0].imshow(image)
    row[0].set_title(title)
    for ax, (name, detector) in zip(row[1:], detectors.items()):
        ax.imshow(detector(image), cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(f'"{name}"')
for ax in axes.ravel():
    ax.axis("off")
fig.tight_layout()

# %%
# The smooth maps (without non-maximum suppression) show how sure each detector is away
# from the ridges: the learned map stays low on the cat's fur, where the gradient is high.
fig, axes = plt.subplots(1, len(detectors), figsize=(8, 3.2))
for ax, (name, detector) in zip(axes, detectors.items()):
    smooth = detector.set_params(nms=False)(data.chelsea())
    ax.imshow(smooth, cmap="magma", vmin=0, vmax=1)
    ax.set_title(f'"{name}", nms=False')
    ax.axis("off")
fig.tight_layout()
plt.show()
