"""
=========================
Segmenting with scribbles
=========================

DFC (Kim, Kanezaki & Tanaka, 2020) lets a user steer the unsupervised network with a few
strokes: every scribbled pixel carries a class id, everything else is ``UNLABELLED``. The
scribbled pixels get a cross-entropy term (weight ``scribble_weight``, 0.5 as in DFC), the
others the usual feature similarity, and training stops by default once the number of
clusters is down to the number of scribble classes.

Here four strokes on the coffee photograph bundled with scikit-image name the coffee, the
cup, the saucer and the table (the coffee and the table have much the same colour); the
same network trained without scribbles is shown for comparison. The scribble term works
with any configuration of the estimator: this one is the library's default loss without
guidance, shrunk (``max_pixels``, a narrower network) to run in a few seconds.
"""
import matplotlib.pyplot as plt
import numpy as np
from skimage import data

from skdynaguide import DynaGuideSegmenter
from skdynaguide.plotting import plot_overlay
from skdynaguide.training.scribbles import UNLABELLED

image = data.coffee()  # (400, 600, 3)

# strokes as (class id, rows, columns); ids are arbitrary integers >= 0
strokes = [
    (10, slice(98, 102), slice(240, 330)),   # coffee
    (20, slice(33, 37), slice(250, 320)),    # cup rim
    (30, slice(298, 302), slice(170, 330)),  # saucer
    (40, slice(18, 22), slice(20, 150)),     # table, top left
    (40, slice(378, 382), slice(450, 580)),  # table, bottom right
]
scribbles = np.full(image.shape[:2], UNLABELLED)
for class_id, rows, cols in strokes:
    scribbles[rows, cols] = class_id

params = dict(guidance=None, n_features=32, n_clusters=32, max_pixels=10000, max_iter=100,
              random_state=0)
guided = DynaGuideSegmenter(**params)
with_scribbles = guided.fit_predict(image, scribbles=scribbles)
without = DynaGuideSegmenter(**params).fit_predict(image)
print(f"with scribbles: {with_scribbles.max() + 1} segments after {guided.n_iter_} steps; "
      f"without: {without.max() + 1} segments")

fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
axes[0].imshow(image)
for class_id, rows, cols in strokes:
    axes[0].plot([cols.start, cols.stop], [rows.start + 2] * 2, linewidth=3,
                 color=plt.cm.tab10(class_id // 10))
axes[0].set_title("image and scribbles")
axes[0].set_axis_off()
plot_overlay(image, with_scribbles, ax=axes[1])
axes[1].set_title(f"with scribbles: {with_scribbles.max() + 1} segments")
plot_overlay(image, without, ax=axes[2])
axes[2].set_title(f"without: {without.max() + 1} segments")
fig.tight_layout()
