"""
============================
Comparing guidance providers
============================

The guidance term pulls the network towards a coarse label map ``P`` computed once per
image. The weight-free providers give different priors: Felzenszwalb's graph segmentation
(the default) and SLIC superpixels (spatially compact regions), colour k-means (clusters
that may span separate regions) and IL2Vseg's spatially constrained fuzzy c-means
(``"fcm"``).
``guidance=None`` trains without a guide (DynaSeg / DFC style).

The top row shows each guide, the bottom row the segmentation it leads to. All runs share
one small network and budget so the example runs in seconds.
"""
import matplotlib.pyplot as plt
from skimage import data

from skdynaguide import DynaGuideSegmenter, FelzenszwalbGuidance, SLICGuidance
from skdynaguide.plotting import plot_labels, plot_overlay

image = data.coffee()  # (400, 600, 3)
providers = {
    "kmeans": "kmeans",
    "felzenszwalb": FelzenszwalbGuidance(scale=300, min_size=200),
    "slic": SLICGuidance(n_segments=40),
    "fcm": "fcm",
    "none": None,
}
small = dict(n_features=32, n_clusters=32, max_pixels=6000, max_iter=40, random_state=0)

fig, axes = plt.subplots(2, len(providers), figsize=(3.2 * len(providers), 5))
for column, (name, guidance) in enumerate(providers.items()):
    seg = DynaGuideSegmenter(guidance=guidance, **small)
    labels = seg.fit_predict(image)
    if seg.guidance_labels_ is None:
        axes[0, column].imshow(image)
        axes[0, column].set_axis_off()
        axes[0, column].set_title("no guidance")
    else:
        n_guide = seg.guidance_labels_.max() + 1
        plot_labels(seg.guidance_labels_, ax=axes[0, column], title=f"{name}: {n_guide} regions")
    plot_overlay(image, labels, ax=axes[1, column], title=f"{seg.n_labels_} segments")
    print(f"{name:>12}: guide {'-' if seg.guidance_labels_ is None else n_guide}, "
          f"result {seg.n_labels_} segments")
fig.tight_layout()

# %%
# Any map can serve as a guide: :class:`~skdynaguide.guidance.PrecomputedGuidance` takes
# maps computed elsewhere, and a new provider is one subclass of
# :class:`~skdynaguide.guidance.GuidanceProvider` with a ``segment`` method. The
# pretrained priors of the papers, SegFormer and DiffSeg, have examples of their own
# (not run when the documentation is built, since they need model weights).
