"""Hand-made colour features shared by the weight-free detector and the learned one."""
from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.color import rgb2lab

__all__ = ["normalised_lab", "lab_gradients"]

# L spans [0, 100] and a, b roughly [-100, 100]: these bring the three to comparable
# ranges, so that a chromatic edge counts about as much as a luminance edge of equal size.
_LAB_SCALE = np.array([100.0, 110.0, 110.0], dtype=np.float32)
_LAB_SHIFT = np.array([50.0, 0.0, 0.0], dtype=np.float32)


def normalised_lab(rgb):
    """CIE Lab of a float RGB image, centred and scaled to about [-0.5, 0.5]."""
    lab = rgb2lab(rgb).astype(np.float32)
    return (lab - _LAB_SHIFT) / _LAB_SCALE


def lab_gradients(lab, sigmas=(1.0, 2.0, 4.0)):
    """Gaussian-derivative gradient magnitude of each Lab channel at each scale.

    Returns an array of shape (len(sigmas), 3, H, W); each magnitude is multiplied by its
    sigma so that a step edge gives the same height at every scale.
    """
    out = np.empty((len(sigmas), 3) + lab.shape[:2], dtype=np.float32)
    for i, sigma in enumerate(sigmas):
        for c in range(3):
            out[i, c] = ndimage.gaussian_gradient_magnitude(lab[..., c], sigma,
                                                            mode="reflect") * sigma
    return out
