"""skdynaguide: unsupervised image segmentation with DynaGuide and its family.

The package is laid out as the pipeline runs: an image's guidance map
(:mod:`skdynaguide.guidance`), the network trained on it (:mod:`skdynaguide.training`, with
its loss terms in :mod:`skdynaguide.losses`), the labels made from its clusters
(:mod:`skdynaguide.output`), and their scores (:mod:`skdynaguide.metrics`);
:mod:`skdynaguide.family` holds the papers' configurations and DCN's region classes.

The estimators sit on top: :class:`DynaGuideSegmenter` trains a small CNN on each image,
guided by a coarse label map from a pluggable provider; :class:`InductiveSegmenter` trains
one network over a collection and segments new images (or the frames of a video) by a
forward pass. Both return their labels through the same output pipeline.
"""
__version__ = "0.1.0"

import importlib as _importlib
import sys as _sys

from .family.regions import RegionClassifier, repeated_scores
from .family.resnet_fpn import ResNetFPN
from .guidance import (
    DiffSegGuidance,
    FCMGuidance,
    FelzenszwalbGuidance,
    GuidanceProvider,
    KMeansGuidance,
    PrecomputedGuidance,
    SegFormerGuidance,
    SLICGuidance,
)
from .inductive import InductiveSegmenter
from .losses import ContinuityLoss, HuberContinuity, L1Continuity
from .metrics.evaluation import evaluate
from .segmenter import DynaGuideSegmenter
from .training.network import DynaGuideNet, NetworkBuilder

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

# The modules' paths before the package was laid out by pipeline stage (guidance/,
# training/, output/, metrics/, family/): ``skdynaguide.network`` and the like keep working,
# and models pickled under them load, as the same module objects.
_MOVED = {
    "network": "training.network", "config": "training.config",
    "batched": "training.batched", "matching": "training.matching",
    "silhouette": "training.silhouette", "scribbles": "training.scribbles",
    "collection": "training.collection", "segments": "output.segments",
    "snapping": "output.snapping", "scoring": "metrics.scoring",
    "evaluation": "metrics.evaluation", "model_selection": "metrics.model_selection",
    "presets": "family.presets", "regions": "family.regions",
    "resnet_fpn": "family.resnet_fpn", "embedding": "family.embedding",
    "embedding.base": "family.embedding.base", "embedding.colour": "family.embedding.colour",
    "embedding.dino": "family.embedding.dino",
}
for _old, _new in _MOVED.items():
    _module = _importlib.import_module(f"{__name__}.{_new}")
    _sys.modules[f"{__name__}.{_old}"] = _module
    if "." not in _old:
        globals()[_old] = _module
del _old, _new, _module
