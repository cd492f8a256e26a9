"""Felzenszwalb–Huttenlocher graph segmentation as a weight-free guidance provider."""
from __future__ import annotations

from skimage.segmentation import felzenszwalb

from .._image import check_scalar_float, check_scalar_int
from .base import GuidanceProvider

__all__ = ["FelzenszwalbGuidance"]


class FelzenszwalbGuidance(GuidanceProvider, name="felzenszwalb"):
    """Efficient graph-based segmentation (Felzenszwalb & Huttenlocher, 2004) as guidance.

    A thin wrapper of :func:`skimage.segmentation.felzenszwalb` on the image in [0, 1].

    Parameters
    ----------
    scale : float, default=300
        Higher means larger segments (the k of the paper; skimage's convention, in which
        uint8 images and their float [0, 1] versions give the same result).
    sigma : float, default=0.8
        Width of the Gaussian pre-smoothing.
    min_size : int, default=100
        Minimum segment size in pixels (merged away in post-processing).

    See Also
    --------
    skimage.segmentation.felzenszwalb

    Examples
    --------
    >>> import numpy as np
    >>> image = np.zeros((20, 20, 3)); image[:, 10:] = 1.0
    >>> labels = FelzenszwalbGuidance(min_size=50)(image)
    >>> labels.shape, int(labels.max()) + 1
    ((20, 20), 2)
    """

    def __init__(self, scale=300.0, sigma=0.8, min_size=100):
        self.scale = scale
        self.sigma = sigma
        self.min_size = min_size

    def segment(self, image, random_state=None):
        scale = check_scalar_float(self.scale, "scale", min_value=0, strict=True)
        sigma = check_scalar_float(self.sigma, "sigma", min_value=0)
        min_size = check_scalar_int(self.min_size, "min_size", min_value=0)
        return felzenszwalb(image, scale=scale, sigma=sigma, min_size=min_size, channel_axis=-1)
