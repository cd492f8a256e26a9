"""A weight-free boundary map: the multi-scale colour gradient in Lab."""
from __future__ import annotations

import numpy as np

from .._image import check_scalar_float
from ._features import lab_gradients, normalised_lab
from .base import BoundaryDetector

__all__ = ["GradientBoundaries"]

#: Default gradient strength mapped to 0.5 (see ``softness``).
SOFTNESS = 0.1


class GradientBoundaries(BoundaryDetector, name="gradient"):
    """Boundary map from the colour gradient of the image in Lab, over several scales.

    At each scale the per-channel Gaussian-derivative magnitudes are combined as a colour
    vector norm; the scales are averaged, then mapped into [0, 1] by ``g / (g + softness)``.
    No weights and no training: use it where the learned map cannot be loaded, or as a
    baseline.

    Parameters
    ----------
    sigmas : tuple of float, default=(1.0, 2.0, 4.0)
        Gaussian scales in pixels. Small scales localise sharp edges; large ones ignore
        texture. Add larger scales for heavily textured images.
    softness : float, default=0.1
        Gradient strength (in normalised Lab units) that maps to 0.5. It changes no ranking
        of pixels, only how the map spreads over [0, 1].
    nms : bool, default=True
        Thin the map to one-pixel ridges by non-maximum suppression. Turn it off for a
        smooth map (as input to a watershed, for instance).

    Examples
    --------
    >>> import numpy as np
    >>> from skdynaguide.boundaries import GradientBoundaries
    >>> image = np.zeros((20, 20), dtype=np.uint8); image[:, 10:] = 255
    >>> prob = GradientBoundaries()(image)
    >>> bool(prob[10, 9:11].max() > 0.5), float(prob[10, 2])
    (True, 0.0)
    """

    def __init__(self, sigmas=(1.0, 2.0, 4.0), softness=SOFTNESS, nms=True):
        self.sigmas = sigmas
        self.softness = softness
        self.nms = nms

    def validate(self):
        sigmas = np.asarray(self.sigmas, dtype=float).ravel()
        if sigmas.size == 0 or not np.all(np.isfinite(sigmas)) or np.any(sigmas <= 0):
            raise ValueError(f"sigmas must be positive numbers, got {self.sigmas!r}")
        check_scalar_float(self.softness, "softness", min_value=0.0, strict=True)
        return self

    def strength(self, image):
        grads = lab_gradients(normalised_lab(image), tuple(float(s) for s in self.sigmas))
        magnitude = np.sqrt((grads ** 2).sum(axis=1)).mean(axis=0)
        return magnitude / (magnitude + np.float32(self.softness))
