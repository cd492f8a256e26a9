"""Orientation and non-maximum suppression of soft boundary maps (after Dollár's edgesNms)."""
from __future__ import annotations

import numpy as np
from scipy import ndimage

__all__ = ["triangle_smooth", "boundary_orientation", "non_maximum_suppression"]


def triangle_smooth(image, radius):
    """Separable triangle filter of the given integer radius (Dollár's ``convTri``)."""
    if radius < 1:
        return np.asarray(image, dtype=np.float32)
    kernel = np.r_[np.arange(1, radius + 2), np.arange(radius, 0, -1)].astype(np.float32)
    kernel /= kernel.sum()
    out = ndimage.convolve1d(np.asarray(image, dtype=np.float32), kernel, axis=0,
                             mode="reflect")
    return ndimage.convolve1d(out, kernel, axis=1, mode="reflect")


def boundary_orientation(prob, radius=4):
    """Angle of the normal to the boundary at every pixel, in [0, pi).

    Read from the structure tensor of the smoothed map: the gradients on both flanks of a
    ridge point across it (in opposite senses, which the tensor does not distinguish).
    ``radius`` (triangle smoothing) trades noise for detail.
    """
    smooth = triangle_smooth(prob, radius)
    gy, gx = np.gradient(smooth)
    jxx = triangle_smooth(gx * gx, radius)
    jyy = triangle_smooth(gy * gy, radius)
    jxy = triangle_smooth(gx * gy, radius)
    # The dominant eigenvector of [[jxx, jxy], [jxy, jyy]] (x = columns).
    angle = 0.5 * np.arctan2(2 * jxy, jxx - jyy)
    return np.mod(angle, np.pi).astype(np.float32)


def non_maximum_suppression(prob, orientation, radius=1, border=5, margin=1.01):
    """Keep the pixels that are maxima across the boundary; zero the others.

    Parameters
    ----------
    prob : ndarray of shape (H, W)
        Soft boundary map.
    orientation : ndarray of shape (H, W)
        Normal angle from :func:`boundary_orientation`.
    radius : int, default=1
        How far along the normal (in pixels) a pixel must dominate its neighbours.
    border : int, default=5
        Width of the frame where values are faded linearly to zero: maps computed with
        padding respond spuriously at the image edge, which is never a boundary in BSDS.
    margin : float, default=1.01
        A pixel survives when ``margin * value`` is not below its interpolated neighbours;
        above 1 it keeps both pixels of a plateau two pixels wide.
    """
    prob = np.asarray(prob, dtype=np.float32)
    h, w = prob.shape
    rows, cols = np.mgrid[0:h, 0:w].astype(np.float32)
    cos, sin = np.cos(orientation), np.sin(orientation)
    keep = np.ones(prob.shape, dtype=bool)
    for d in range(1, radius + 1):
        for sign in (1, -1):
            coords = [rows + sign * d * sin, cols + sign * d * cos]
            neighbour = ndimage.map_coordinates(prob, coords, order=1, mode="nearest")
            keep &= prob * margin >= neighbour
    out = np.where(keep, prob, 0.0).astype(np.float32)
    if border > 0:
        ramp_r = np.minimum(np.arange(h), np.arange(h)[::-1]).astype(np.float32)
        ramp_c = np.minimum(np.arange(w), np.arange(w)[::-1]).astype(np.float32)
        fade = np.minimum(np.minimum(ramp_r[:, None], ramp_c[None, :]) / border, 1.0)
        out *= fade
    return out
