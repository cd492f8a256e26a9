"""skdynaguide: unsupervised image segmentation with DynaGuide and its family.

The estimator :class:`DynaGuideSegmenter` trains a small CNN on each image, guided by a
coarse label map from a pluggable provider (:mod:`skdynaguide.guidance`); the losses live in
:mod:`skdynaguide.losses`, the network in :mod:`skdynaguide.network` and the scores of the
published protocols in :mod:`skdynaguide.metrics`; :mod:`skdynaguide.scoring`,
:mod:`skdynaguide.model_selection` and :func:`evaluate` serve tuning and benchmarking.
:class:`InductiveSegmenter` trains one network over a collection and segments new images
(or the frames of a video) by a forward pass.
:class:`ResNetFPN` is DynaSeg's pretrained alternative to the small CNN (``network=``), and
:class:`RegionClassifier` gives the regions of a whole dataset shared class ids (DCN).
"""
__version__ = "0.1.0"

from .evaluation import evaluate
from .guidance import (
    FCMGuidance,
    FelzenszwalbGuidance,
    GuidanceProvider,
    KMeansGuidance,
    PrecomputedGuidance,
    SLICGuidance,
    SegFormerGuidance,
    DiffSegGuidance,
)
from .losses import ContinuityLoss, HuberContinuity, L1Continuity
from .network import DynaGuideNet, NetworkBuilder
from .regions import RegionClassifier, repeated_scores
from .resnet_fpn import ResNetFPN
from .segmenter import DynaGuideSegmenter
from .inductive import InductiveSegmenter

__all__ = [
    "DynaGuideSegmenter",
    "InductiveSegmenter",
    "evaluate",
    "DynaGuideNet",
    "NetworkBuilder",
    "ResNetFPN",
    "RegionClassifier",
    "repeated_scores",
    "GuidanceProvider",
    "FelzenszwalbGuidance",
    "SLICGuidance",
    "KMeansGuidance",
    "FCMGuidance",
    "PrecomputedGuidance",
    "SegFormerGuidance",
    "DiffSegGuidance",
    "ContinuityLoss",
    "HuberContinuity",
    "L1Continuity",
    "__version__",
]
