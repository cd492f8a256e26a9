"""Boundary maps: an image in, the probability that each pixel lies on an object boundary.

:class:`LearnedBoundaries` (``"learned"``, the default) runs a small convolutional network
trained on BSD500 and shipped with the package; :class:`GradientBoundaries` (``"gradient"``)
is the weight-free multi-scale colour gradient. Both return float32 maps in [0, 1], thinned
by non-maximum suppression unless ``nms=False``. Score maps with :mod:`skdynaguide.metrics.bsds_edges`.
"""
from .base import BoundaryDetector, resolve_boundaries
from .gradient import GradientBoundaries
from .learned import LearnedBoundaries, ModelFileError, load_boundary_model

__all__ = [
    "BoundaryDetector",
    "GradientBoundaries",
    "LearnedBoundaries",
    "ModelFileError",
    "load_boundary_model",
    "resolve_boundaries",
]
