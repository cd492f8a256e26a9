"""
===================
The effect of alpha
===================

The continuity weight of DynaGuide is dynamic: ``w(q') = q' / alpha`` ("FSF"), where
``q'`` is the current number of clusters. While there are many clusters the continuity term
is strong and merges them; as they merge it fades. A small ``alpha`` smooths hard and leaves
few, large segments; a large ``alpha`` keeps more, smaller ones. DynaSeg's "SCF" weighting
``alpha / q'`` works the other way round.

Below, the same image and seed under four values of ``alpha``, and the number of clusters
``q'`` during training for each. The runs have no guidance (``guidance=None``, as in
DynaSeg): a guide, with its strong default weight, would hold the result at its own
segments whatever ``alpha`` is, and hide the effect shown here.
"""
import matplotlib.pyplot as plt
from skimage import data

from skdynaguide import DynaGuideSegmenter
from skdynaguide.plotting import plot_overlay

image = data.coffee()
alphas = [1, 5, 15, 100]
small = dict(guidance=None, n_features=32, n_clusters=32, max_pixels=6000, max_iter=40, random_state=0)

fig, axes = plt.subplots(1, len(alphas) + 1, figsize=(3.2 * (len(alphas) + 1), 3))
for ax, alpha in zip(axes, alphas):
    seg = DynaGuideSegmenter(alpha=alpha, **small)
    labels = seg.fit_predict(image)
    plot_overlay(image, labels, ax=ax, title=f"alpha={alpha}: {seg.n_labels_} segments")
    axes[-1].plot(seg.loss_history_["n_labels"], label=f"alpha={alpha}")
    print(f"alpha={alpha:>4}: {seg.n_labels_} segments")
axes[-1].set_xlabel("iteration")
axes[-1].set_ylabel("clusters q'")
axes[-1].legend()
fig.tight_layout()

# %%
# To choose ``alpha`` against ground truth, search over it with ``GridSearchCV`` (see
# the grid-search example); without ground truth, pick by eye the granularity you need.
