"""Published configurations of DynaGuide and its family, as constructor parameters.

Use them through :meth:`skdynaguide.DynaGuideSegmenter.from_preset`. Each preset is the
method as its paper describes it, at full resolution; pass ``max_pixels=...`` (and a smaller
``max_iter``) to run it at the library's practical speed.
"""
from __future__ import annotations

__all__ = ["PRESETS"]

_FULL_RESOLUTION = dict(max_pixels=None, max_iter=1000, lr=0.1, momentum=0.9,
                        n_features=100, n_clusters=100, n_blocks=2, tol=None)

PRESETS = {
    # DynaGuide (Guermazi et al. 2025) executed literally: Huber with diagonals, FSF q'/15,
    # guidance CE weighted 1/q' with guide class k <-> channel k, a fixed 1000 iterations;
    # the guide is the library's default weight-free one (the paper's are SegFormer/DiffSeg).
    "dynaguide-paper": dict(
        _FULL_RESOLUTION, guidance="kmeans", continuity="huber", weighting="fsf",
        alpha=15.0, residual=True, guidance_weight=1.0, matching="index", min_labels=None,
    ),
    # DynaSeg (Guermazi & Khan 2024), no guidance, L1 continuity, stop at 3 clusters, with
    # the silhouette score phase: the count it picks at the first iteration floors q'.
    "dynaseg-fsf": dict(
        _FULL_RESOLUTION, guidance=None, continuity="l1", weighting="fsf", alpha=15.0,
        residual=False, min_labels=3, silhouette=True,
    ),
    "dynaseg-scf": dict(
        _FULL_RESOLUTION, guidance=None, continuity="l1", weighting="scf", alpha=50.0,
        residual=False, min_labels=3, silhouette=True,
    ),
    # DFC (Kim, Kanezaki & Tanaka 2020): fixed mu = 5, L1, stop at 3 clusters.
    "dfc": dict(
        _FULL_RESOLUTION, guidance=None, continuity="l1", weighting=5.0, residual=False,
        min_labels=3,
    ),
}
