"""A cut of the image's boundary hierarchy as a weight-free guidance provider."""
from __future__ import annotations

from .._image import check_scalar_float, check_scalar_int
from ..hierarchy import METHODS, build_hierarchy
from .base import GuidanceProvider

__all__ = ["HierarchyGuidance"]


class HierarchyGuidance(GuidanceProvider, name="hierarchy"):
    """Regions of a boundary hierarchy (:mod:`skdynaguide.hierarchy`) cut at one level.

    The image's boundary map (by default the shipped learned one, which knows which colour
    edges people draw as object boundaries) is flooded into superpixels that merge in
    order of the boundaries between them; the cut keeps the boundaries stronger than
    ``threshold``, so the number of regions adapts to each image.

    Parameters
    ----------
    boundaries : str or BoundaryDetector, default="learned"
        The boundary map (:mod:`skdynaguide.boundaries`).
    threshold : float, default=0.2
        Boundaries at most this strong are merged away. Lower gives more, smaller regions.
    n_segments : int or None, default=None
        Instead of ``threshold``: this many regions per image.
    method : {"dynamics", "mean"}, default="dynamics"
        How the hierarchy merges regions (see :mod:`skdynaguide.hierarchy.tree`).
    min_area : int or float, default=0.0005
        Smallest region, in pixels (int) or as a fraction of the image (float).

    Examples
    --------
    >>> import numpy as np
    >>> from skdynaguide.guidance import HierarchyGuidance
    >>> image = np.zeros((40, 60, 3), np.uint8); image[:, 30:] = 255
    >>> labels = HierarchyGuidance(boundaries="gradient", min_area=50)(image)
    >>> labels.shape, int(labels.max()) + 1
    ((40, 60), 2)
    """

    def __init__(self, boundaries="learned", threshold=0.2, n_segments=None,
                 method="dynamics", min_area=0.0005):
        self.boundaries = boundaries
        self.threshold = threshold
        self.n_segments = n_segments
        self.method = method
        self.min_area = min_area

    def segment(self, image, random_state=None):
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        n_segments = check_scalar_int(self.n_segments, "n_segments", min_value=1,
                                      allow_none=True)
        threshold = None
        if n_segments is None:
            threshold = check_scalar_float(self.threshold, "threshold", min_value=0)
        tree = build_hierarchy(image, self.boundaries, method=self.method,
                               min_area=self.min_area)
        return tree.cut(threshold=threshold, n_segments=n_segments)
