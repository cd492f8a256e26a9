"""Guidance providers: an image in, a coarse global label map out.

Weight-free providers work offline: :class:`HierarchyGuidance` (a cut of the image's
boundary hierarchy, on the shipped learned boundary map), :class:`FelzenszwalbGuidance`, :class:`SLICGuidance`,
:class:`KMeansGuidance`, :class:`FCMGuidance` (IL2Vseg's spatially constrained fuzzy
c-means with colour affinity) and :class:`PrecomputedGuidance`. ``None`` (or ``"none"``) means
no guidance, i.e. DynaSeg / DFC.

Pretrained priors, loaded lazily through optional extras: :class:`SegFormerGuidance`
(``pip install "skdynaguide[segformer]"``; supervised on ADE20K) and :class:`DiffSegGuidance`
(``pip install "skdynaguide[diffseg]"``; unsupervised, Stable Diffusion's self-attention).
Their models are cached outside the providers (:func:`clear_model_cache` frees them); missing
weights raise :class:`WeightsNotFoundError` with instructions to supply them offline.
"""
from .._hub import WeightsNotFoundError, clear_model_cache
from .base import GuidanceProvider, compute_guidance, resolve_guidance
from .diffseg import DiffSegGuidance
from .fcm import FCMGuidance
from .felzenszwalb import FelzenszwalbGuidance
from .hierarchy import HierarchyGuidance
from .kmeans import KMeansGuidance
from .precomputed import PrecomputedGuidance
from .segformer import SegFormerGuidance
from .slic import SLICGuidance

__all__ = [
    "GuidanceProvider",
    "FelzenszwalbGuidance",
    "HierarchyGuidance",
    "SLICGuidance",
    "KMeansGuidance",
    "FCMGuidance",
    "PrecomputedGuidance",
    "SegFormerGuidance",
    "DiffSegGuidance",
    "WeightsNotFoundError",
    "clear_model_cache",
    "compute_guidance",
    "resolve_guidance",
]
