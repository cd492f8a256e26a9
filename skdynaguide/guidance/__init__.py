"""Guidance providers (SPEC §2): an image in, a coarse global label map out.

Weight-free providers work offline: :class:`FelzenszwalbGuidance`, :class:`SLICGuidance`,
:class:`KMeansGuidance` and :class:`PrecomputedGuidance`. ``None`` (or ``"none"``) means
no guidance, i.e. DynaSeg / DFC.
"""
from .base import GuidanceProvider, compute_guidance, resolve_guidance
from .felzenszwalb import FelzenszwalbGuidance
from .kmeans import KMeansGuidance
from .precomputed import PrecomputedGuidance
from .slic import SLICGuidance

GuidanceProvider.registry.reserve(
    "segformer",
    "guidance='segformer' (SegFormer pseudo-labels through transformers) is not available in "
    "this version of skdynaguide; use a weight-free provider such as 'felzenszwalb', or pass "
    "precomputed maps with PrecomputedGuidance",
)
GuidanceProvider.registry.reserve(
    "diffseg",
    "guidance='diffseg' (DiffSeg pseudo-labels through diffusers) is not available in this "
    "version of skdynaguide; use a weight-free provider such as 'felzenszwalb', or pass "
    "precomputed maps with PrecomputedGuidance",
)

__all__ = [
    "GuidanceProvider",
    "FelzenszwalbGuidance",
    "SLICGuidance",
    "KMeansGuidance",
    "PrecomputedGuidance",
    "compute_guidance",
    "resolve_guidance",
]
