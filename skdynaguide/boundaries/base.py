"""The boundary-detector interface and the string → detector resolution."""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator

from .._image import check_image
from .._registry import Pluggable
from ._nms import boundary_orientation, non_maximum_suppression

__all__ = ["BoundaryDetector", "resolve_boundaries"]


class BoundaryDetector(Pluggable, BaseEstimator, family="boundary map"):
    """Base class of boundary detectors: an image in, a boundary probability map out.

    A detector stores only its parameters (models are loaded lazily and cached outside
    them), so cloning and pickling stay cheap. Subclasses implement :meth:`strength` and
    name themselves in the class statement to become reachable by string::

        class MyBoundaries(BoundaryDetector, name="mine"):
            def strength(self, image):
                ...  # image: float32 (H, W, 3) in [0, 1]; return (H, W) floats in [0, 1]

    Calling a detector (``detector(image)``) validates the image, runs :meth:`strength`
    and, when the detector's ``nms`` parameter is true, thins the map by non-maximum
    suppression across the boundary direction.

    Examples
    --------
    >>> import numpy as np
    >>> from skdynaguide.boundaries import BoundaryDetector
    >>> class Columns(BoundaryDetector, name="columns-example"):
    ...     def __init__(self, nms=False):
    ...         self.nms = nms
    ...     def strength(self, image):
    ...         return np.abs(np.diff(image[..., 0], axis=1, append=image[:, -1:, 0]))
    >>> image = np.zeros((3, 4)); image[:, 2:] = 1.0
    >>> Columns()(image)[0].tolist()
    [0.0, 1.0, 0.0, 0.0]
    """

    def strength(self, image):
        """Soft boundary strength of one validated image, before any thinning.

        Parameters
        ----------
        image : ndarray of shape (H, W, 3), dtype float32
            RGB in [0, 1] (already validated; never modify it).

        Returns
        -------
        strength : ndarray of shape (H, W)
            Values in [0, 1]; higher where a boundary is more likely.
        """
        raise NotImplementedError

    def smooth(self, image):
        """The map before any thinning: what a watershed or the output steps need.

        Parameters
        ----------
        image : array-like of shape (H, W) or (H, W, 3)
            As for calling the detector.

        Returns
        -------
        prob : ndarray of shape (H, W), dtype float32
            In [0, 1], whatever the detector's ``nms``.
        """
        rgb = check_image(image)
        self.validate()
        prob = np.asarray(self.strength(rgb), dtype=np.float32)
        if prob.shape != rgb.shape[:2]:
            raise ValueError(f"{type(self).__name__} returned a map of shape {prob.shape} "
                             f"for an image of shape {rgb.shape[:2]}")
        return np.clip(np.nan_to_num(prob, nan=0.0), 0.0, 1.0)

    def __call__(self, image, return_orientation=False):
        """Boundary probability map of ``image``.

        Parameters
        ----------
        image : array-like of shape (H, W) or (H, W, 3)
            uint8, uint16 or float in [0, 1] (see :func:`skdynaguide._image.check_image`).
        return_orientation : bool, default=False
            Also return the orientation of the boundary at every pixel.

        Returns
        -------
        prob : ndarray of shape (H, W), dtype float32
            In [0, 1]; one pixel wide along boundaries when ``nms`` is true.
        orientation : ndarray of shape (H, W), dtype float32
            Only with ``return_orientation``: the angle in [0, pi) of the normal to the
            boundary, measured from the column axis towards the row axis.
        """
        prob = self.smooth(image)
        orientation = None
        if getattr(self, "nms", False) or return_orientation:
            orientation = boundary_orientation(prob)
        if getattr(self, "nms", False):
            prob = non_maximum_suppression(prob, orientation)
        if return_orientation:
            return prob.astype(np.float32), orientation.astype(np.float32)
        return prob.astype(np.float32)


def resolve_boundaries(boundaries="learned"):
    """Turn a ``boundaries`` parameter into a detector.

    A string names a registered detector created with its default parameters
    (``"learned"``, ``"gradient"``); a :class:`BoundaryDetector` instance is used as given.

    Examples
    --------
    >>> from skdynaguide.boundaries import resolve_boundaries
    >>> resolve_boundaries("gradient")
    GradientBoundaries()
    """
    return BoundaryDetector.registry.resolve(boundaries)
