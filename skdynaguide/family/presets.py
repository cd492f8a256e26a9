"""Published configurations of DynaGuide and its family, as constructor parameters.

Use them through :meth:`skdynaguide.DynaGuideSegmenter.from_preset`. Each preset is the
method as its paper describes it, at full resolution; pass ``max_pixels=...`` (and a smaller
``max_iter``) to run it at the library's practical speed. ``"dynaguide-diffseg"`` and
``"dynaguide-segformer"`` carry the paper's guides, which need their extras and weights
(:doc:`/guidance`); ``"dynaguide-paper"`` is the same training with a weight-free guide.

``PRESETS`` is read-only: each look-up returns a new dictionary holding new copies of the
guidance providers, so segmenters made from one preset never share a provider.
"""
from __future__ import annotations

from collections.abc import Mapping

from sklearn.base import BaseEstimator, clone

from ..guidance.diffseg import DiffSegGuidance
from ..guidance.segformer import SegFormerGuidance

__all__ = ["PRESETS"]

# The papers' network sees colour only and their output is its clusters as they are.
_FULL_RESOLUTION = dict(max_pixels=None, max_iter=1000, lr=0.1, momentum=0.9,
                        n_features=100, n_clusters=100, n_blocks=2, tol=None,
                        coordinates=False, output="redraw", min_size=None, snap=None,
                        precision="float32")

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

# DynaGuide as the paper ran it with its two guides: the "dynaguide-paper" training with
# DiffSeg at the original code's benchmark settings (threshold 1.1, no refinement, float32,
# no antialiasing), covering the whole image with sliding windows since the paper does not
# say how it covered non-square images, or with the authors' SegFormer-B2 in float32.
PRESETS["dynaguide-diffseg"] = dict(
    PRESETS["dynaguide-paper"], guidance=DiffSegGuidance.from_preset("benchmark", window="slide")
)
PRESETS["dynaguide-segformer"] = dict(
    PRESETS["dynaguide-paper"], guidance=SegFormerGuidance.from_preset("dynaguide")
)


class _Presets(Mapping):
    """Read-only presets: a look-up returns a new dict with fresh copies of the estimators in
    it, so that ``set_params(guidance__...)`` on one segmenter changes neither the preset nor
    other segmenters made from it."""

    def __init__(self, presets):
        self._presets = dict(presets)

    def __getitem__(self, name):
        return {key: clone(value) if isinstance(value, BaseEstimator) else value
                for key, value in self._presets[name].items()}

    def __iter__(self):
        return iter(self._presets)

    def __len__(self):
        return len(self._presets)

    def __repr__(self):
        return f"PRESETS({sorted(self._presets)})"


PRESETS = _Presets(PRESETS)
