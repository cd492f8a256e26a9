"""From an image (or its boundary map) to its :class:`~skdynaguide.hierarchy.BoundaryHierarchy`."""
from __future__ import annotations

import threading
from collections import OrderedDict

from .._image import check_image, fingerprint, size_in_pixels
from ..boundaries import resolve_boundaries
from .tree import METHODS, BoundaryHierarchy

__all__ = ["build_hierarchy", "hierarchy_from_map"]

#: The last few hierarchies built, by image content and settings: the guidance provider
#: and the output step of one fit ask for the same image's hierarchy. The lock keeps it
#: whole under the threading backend.
_CACHE = OrderedDict()
_CACHE_SIZE = 4
_CACHE_LOCK = threading.Lock()


def hierarchy_from_map(prob, *, method="dynamics", min_area=0.0005):
    """The hierarchy of a smooth boundary map.

    Parameters
    ----------
    prob : array-like of shape (H, W)
        Boundary strength in [0, 1], not thinned (e.g. ``detector.smooth(image)``).
    method : {"dynamics", "mean"}, default="dynamics"
        See :mod:`skdynaguide.hierarchy.tree`.
    min_area : int or float, default=0.0005
        Smallest region of every cut, in pixels (an int) or as a fraction of the image
        area (a float in (0, 1)).

    Returns
    -------
    hierarchy : BoundaryHierarchy

    Examples
    --------
    >>> import numpy as np
    >>> from skdynaguide.hierarchy import hierarchy_from_map
    >>> prob = np.zeros((20, 30)); prob[:, 15] = 0.8
    >>> tree = hierarchy_from_map(prob, min_area=10)
    >>> tree.n_regions, int(tree.cut(threshold=0.1).max()) + 1
    (2, 2)
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    shape = getattr(prob, "shape", ())
    if len(shape) != 2:
        raise ValueError(f"prob must be a 2-D map, got shape {shape}")
    pixels = size_in_pixels(min_area, shape[0] * shape[1], name="min_area")
    return BoundaryHierarchy.from_boundaries(prob, method=method, min_area=pixels)


def build_hierarchy(image, boundaries="learned", *, method="dynamics", min_area=0.0005):
    """The hierarchy of an image's regions, from its boundary map.

    Parameters
    ----------
    image : array-like of shape (H, W) or (H, W, 3)
        uint8, uint16 or float in [0, 1].
    boundaries : str or BoundaryDetector, default="learned"
        The boundary map (:mod:`skdynaguide.boundaries`): ``"learned"`` (shipped network),
        ``"gradient"`` (weight-free) or a detector instance.
    method : {"dynamics", "mean"}, default="dynamics"
        How regions merge (see :mod:`skdynaguide.hierarchy.tree`).
    min_area : int or float, default=0.0005
        Smallest region of every cut, in pixels (int) or as a fraction of the image (float).

    Returns
    -------
    hierarchy : BoundaryHierarchy

    Examples
    --------
    >>> import numpy as np
    >>> from skdynaguide.hierarchy import build_hierarchy
    >>> image = np.zeros((40, 60, 3), np.uint8); image[:, 30:] = 255
    >>> tree = build_hierarchy(image, "gradient", min_area=50)
    >>> labels = tree.cut(n_segments=2)
    >>> labels.shape, int(labels.max()) + 1
    ((40, 60), 2)
    """
    rgb = check_image(image)
    detector = resolve_boundaries(boundaries)
    key = (fingerprint(rgb), type(detector).__name__, repr(sorted(detector.get_params().items())),
           method, min_area)
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    hierarchy = hierarchy_from_map(detector.smooth(rgb), method=method, min_area=min_area)
    with _CACHE_LOCK:
        _CACHE[key] = hierarchy
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return hierarchy
