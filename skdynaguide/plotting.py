"""Colouring label maps and drawing them over photographs.

The array functions here need only numpy and scikit-image; the ``plot_*`` helpers import
matplotlib lazily, draw on the given (or current) Axes, return it and never call
``plt.show()``.
"""
from __future__ import annotations

import numpy as np
from skimage.color import hsv2rgb
from skimage.segmentation import find_boundaries

from ._image import check_image, check_label_map

__all__ = ["label_colors", "colorize", "overlay", "plot_overlay", "plot_loss_history"]


def label_colors(n_labels):
    """``n_labels`` distinct RGB colours (uint8), the same for the same label every time.

    Colours walk the hue circle by the golden angle with alternating lightness, so that
    neighbouring label ids get clearly different colours.

    Examples
    --------
    >>> label_colors(3).shape
    (3, 3)
    """
    index = np.arange(n_labels)
    hue = (index * 0.618033988749895) % 1.0
    saturation = np.where(index % 2 == 0, 0.75, 0.55)
    value = np.where(index % 3 == 2, 0.70, 0.95)
    rgb = hsv2rgb(np.stack([hue, saturation, value], axis=1)[:, None, :])[:, 0, :]
    return np.round(rgb * 255).astype(np.uint8)


def colorize(labels):
    """An RGB picture of a label map (uint8, one stable colour per label value).

    Examples
    --------
    >>> colorize(np.array([[0, 1]])).shape
    (1, 2, 3)
    """
    labels = check_label_map(labels)
    if labels.min() < 0:
        raise ValueError("labels must be non-negative to be coloured")
    return label_colors(int(labels.max()) + 1)[labels]


def overlay(image, labels, *, alpha=0.45, boundaries=True, boundary_color=(255, 255, 255)):
    """Blend the label colours over the image and mark segment boundaries.

    Parameters
    ----------
    image : array-like of shape (H, W) or (H, W, 3)
        The photograph (any dtype the estimator accepts).
    labels : array-like of shape (H, W)
        Its segmentation.
    alpha : float, default=0.45
        Opacity of the colours.
    boundaries : bool, default=True
        Draw the boundaries between segments.
    boundary_color : tuple of 3 int, default=(255, 255, 255)

    Returns
    -------
    picture : ndarray of shape (H, W, 3), dtype uint8

    Examples
    --------
    >>> overlay(np.zeros((2, 2)), np.array([[0, 1], [0, 1]])).dtype
    dtype('uint8')
    """
    rgb = check_image(image) * 255.0
    labels = check_label_map(labels, shape=rgb.shape[:2])
    mixed = (1.0 - alpha) * rgb + alpha * colorize(labels)
    if boundaries:
        mixed[find_boundaries(labels, mode="inner")] = boundary_color
    return np.clip(np.round(mixed), 0, 255).astype(np.uint8)


def plot_overlay(image, labels, ax=None, **kwargs):
    """Show :func:`overlay` on a matplotlib Axes and return the Axes."""
    import matplotlib.pyplot as plt

    ax = plt.gca() if ax is None else ax
    ax.imshow(overlay(image, labels, **kwargs))
    ax.set_axis_off()
    return ax


def plot_loss_history(history, ax=None):
    """Plot each loss term and ``q'`` of a ``loss_history_`` against the iteration.

    Returns the Axes of the loss terms (``q'`` is drawn on a twin axis on the right).
    """
    import matplotlib.pyplot as plt

    ax = plt.gca() if ax is None else ax
    iterations = np.arange(1, len(history["loss"]) + 1)
    for key in ("loss", "similarity", "continuity", "guidance"):
        ax.plot(iterations, history[key], label=key)
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss")
    twin = ax.twinx()
    twin.plot(iterations, history["n_labels"], color="black", linestyle=":", label="q'")
    twin.set_ylabel("clusters q'")
    lines = ax.get_legend_handles_labels()
    more = twin.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], loc="upper right")
    return ax
