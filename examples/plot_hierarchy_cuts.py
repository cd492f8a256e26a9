"""
==========================================
One image at several cuts of its hierarchy
==========================================

:class:`~skdynaguide.DynaGuideSegmenter` returns, by default, a cut of the image's boundary
hierarchy (:mod:`skdynaguide.hierarchy`): the superpixels of the learned boundary map merge
in order of the boundary between them, up to the whole image. The network trained on the
image strengthens the boundaries of that hierarchy that lie between its clusters
(``network_weight``). ``threshold`` chooses the cut,
so the number of segments adapts to the image.

Once fitted, the segmenter gives any other granularity without training again:
:meth:`~skdynaguide.DynaGuideSegmenter.segments_at` cuts the same hierarchy at a threshold
or into a number of segments.
"""
import matplotlib.pyplot as plt
from skimage import data
from skimage.transform import rescale

from skdynaguide import DynaGuideSegmenter
from skdynaguide.plotting import overlay

image = rescale(data.coffee(), 0.5, channel_axis=-1, anti_aliasing=True)
seg = DynaGuideSegmenter(max_iter=30, random_state=0).fit(image)

cuts = {f"threshold={seg.threshold} (fit)": seg.labels_}
for k in (4, 12, 40):
    cuts[f"n_segments={k}"] = seg.segments_at(n_segments=k)

fig, axes = plt.subplots(1, len(cuts), figsize=(3.6 * len(cuts), 3.0))
for ax, (title, labels) in zip(axes, cuts.items()):
    ax.imshow(overlay(image, labels))
    ax.set_title(f"{title}: {labels.max() + 1} segments", fontsize=9)
    ax.axis("off")
fig.tight_layout()

# %%
# The ultrametric contour map shows the whole hierarchy at once: every boundary drawn as
# strong as the level at which its two sides merge. A cut at ``threshold`` keeps the
# boundaries brighter than it.
fig, ax = plt.subplots(figsize=(5, 3.4))
ax.imshow(seg.hierarchies_.ucm(), cmap="gray_r")
ax.set_title("hierarchy informed by the network (UCM)")
ax.axis("off")
fig.tight_layout()
plt.show()
