"""SLIC superpixels as a weight-free guidance provider."""
from __future__ import annotations

from skimage.segmentation import slic

from .._image import check_scalar_float, check_scalar_int
from .base import GuidanceProvider

__all__ = ["SLICGuidance"]


class SLICGuidance(GuidanceProvider, name="slic"):
    """Simple linear iterative clustering superpixels (Achanta et al., 2012) as guidance.

    A thin wrapper of :func:`skimage.segmentation.slic` (k-means in Lab + x, y).

    Parameters
    ----------
    n_segments : int, default=100
        Approximate number of superpixels.
    compactness : float, default=10
        Balance of colour and space; higher gives more regular, square superpixels.
    sigma : float, default=1
        Width of the Gaussian pre-smoothing.

    See Also
    --------
    skimage.segmentation.slic

    Examples
    --------
    >>> import numpy as np
    >>> image = np.zeros((20, 20, 3)); image[:, 10:] = 1.0
    >>> int(SLICGuidance(n_segments=4)(image).max()) + 1
    4
    """

    def __init__(self, n_segments=100, compactness=10.0, sigma=1.0):
        self.n_segments = n_segments
        self.compactness = compactness
        self.sigma = sigma

    def segment(self, image, random_state=None):
        n_segments = check_scalar_int(self.n_segments, "n_segments", min_value=1)
        compactness = check_scalar_float(self.compactness, "compactness", min_value=0)
        sigma = check_scalar_float(self.sigma, "sigma", min_value=0)
        return slic(
            image,
            n_segments=n_segments,
            compactness=compactness,
            sigma=sigma,
            start_label=0,
            channel_axis=-1,
        )
