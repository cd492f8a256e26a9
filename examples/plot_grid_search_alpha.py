"""
=====================================
Choosing alpha with ``GridSearchCV``
=====================================

DynaGuide is transductive: nothing learned on one image is reused on another, so the
cross-validation split has no training images (:class:`~skdynaguide.metrics.model_selection.TransductiveSplit`)
and the search scores every candidate on every image (``refit=False``).

The images here have known structure: noisy mosaics of a few colour patches whose ground
truth is the patch layout. The score is the BSD500 best-overlap mIoU (``"bsds_mean"``).
The FSF continuity weight is ``q'/alpha``: a small alpha smooths hard, which here cleans the
noise inside the patches that the colour k-means guide already separates; without guidance
(``guidance=None``) the same small alpha merges patches instead and the search prefers a
large one. The plot shows the mean score of each candidate.
"""
import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import GridSearchCV

from skdynaguide import DynaGuideSegmenter
from skdynaguide.metrics.model_selection import TransductiveSplit
from skdynaguide.metrics.scoring import get_scorer


def mosaic(seed, size=48, n_patches=3, noise=25):
    """An image of n_patches x n_patches colour patches with Gaussian noise, and its truth."""
    rng = np.random.default_rng(seed)
    colours = rng.integers(30, 225, size=(n_patches * n_patches, 3))
    cell = size // n_patches
    truth = (np.arange(size)[:, None] // cell) * n_patches + np.arange(size)[None, :] // cell
    truth = np.minimum(truth, n_patches * n_patches - 1)
    image = colours[truth] + rng.normal(0, noise, (size, size, 3))
    return np.clip(image, 0, 255).astype(np.uint8), truth


images, truths = zip(*(mosaic(seed) for seed in range(4)))
alphas = [1, 3, 10, 30, 100]
search = GridSearchCV(
    DynaGuideSegmenter(guidance="kmeans", n_features=32, n_clusters=32, max_iter=60,
                       random_state=0),
    {"alpha": alphas},
    cv=TransductiveSplit(),
    scoring=get_scorer("bsds_mean"),
    refit=False,
)
search.fit(list(images), list(truths))
print("best alpha:", search.best_params_["alpha"])

fig, ax = plt.subplots(figsize=(5, 3.5))
ax.semilogx(alphas, search.cv_results_["mean_test_score"], marker="o")
ax.set_xlabel("alpha")
ax.set_ylabel("best-overlap mIoU (mean)")
ax.set_title("GridSearchCV over alpha")
fig.tight_layout()
