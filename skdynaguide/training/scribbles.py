"""User scribbles for DFC-style partial supervision: validation and resizing.

A scribble map is an integer (H, W) array per image: a class id ``>= 0`` on the pixels a user
marked, :data:`UNLABELLED` (−1) everywhere else. Class ids are arbitrary; per image they are
mapped in increasing order onto the network channels ``0..K-1``.
"""
from __future__ import annotations

import numpy as np

from ..losses.scribble import UNLABELLED

__all__ = ["UNLABELLED", "check_scribbles", "resize_scribbles"]


def _check_one(scribbles, shape, name, n_channels):
    array = np.asarray(scribbles)
    if array.dtype == bool or not np.issubdtype(array.dtype, np.integer):
        raise TypeError(
            f"{name} must hold integers (class ids >= 0, UNLABELLED = -1 elsewhere), got "
            f"dtype {array.dtype}"
        )
    if array.shape != tuple(shape):
        raise ValueError(f"{name} has shape {array.shape}; it must match its image, {tuple(shape)}")
    if array.size and array.min() < UNLABELLED:
        raise ValueError(
            f"{name} holds {array.min()}; scribble class ids must be >= 0, with "
            f"UNLABELLED = {UNLABELLED} on unlabelled pixels"
        )
    classes, channels = np.unique(array, return_inverse=True)
    channels = channels.reshape(array.shape).astype(np.int64)
    if classes[0] == UNLABELLED:
        classes, channels = classes[1:], channels - 1  # UNLABELLED stays -1
    if len(classes) > n_channels:
        raise ValueError(
            f"{name} has {len(classes)} scribble classes but the network has only "
            f"n_clusters={n_channels} channels"
        )
    return (channels, len(classes)) if len(classes) else (None, 0)


def check_scribbles(scribbles, shapes, is_batch, n_channels):
    """Validate the scribbles passed to ``fit`` and express them in channel space.

    Parameters
    ----------
    scribbles : array-like of shape (H, W), list of such (or None), (N, H, W) array, or None
        One map for a single image; one per image (None for an image without scribbles)
        for a batch.
    shapes : list of (H, W)
        The images' sizes.
    is_batch : bool
        Whether ``fit`` received a batch.
    n_channels : int
        Number of network channels (``n_clusters``), the most scribble classes per image.

    Returns
    -------
    maps : list of (ndarray of shape (H, W) or None)
        Channel ids 0..K-1 on scribbled pixels, ``UNLABELLED`` elsewhere (new arrays); None
        for an image without any scribbled pixel.
    n_classes : list of int
        Number of scribble classes ``K`` per image.

    Examples
    --------
    >>> import numpy as np
    >>> maps, n = check_scribbles(np.array([[7, -1], [3, 7]]), [(2, 2)], False, 100)
    >>> maps[0].tolist(), n
    ([[1, -1], [0, 1]], [2])
    """
    if scribbles is None:
        return [None] * len(shapes), [0] * len(shapes)
    if not is_batch:
        entries = [scribbles]
    elif isinstance(scribbles, (list, tuple)) or (
            isinstance(scribbles, np.ndarray) and scribbles.ndim == 3):
        entries = list(scribbles)
        if len(entries) != len(shapes):
            raise ValueError(
                f"scribbles has {len(entries)} entries for {len(shapes)} images; pass one "
                "map (or None) per image"
            )
    else:
        raise TypeError(
            "for several images, scribbles must be a list with one map (or None) per image, "
            f"or an (N, H, W) array; got {type(scribbles).__name__}"
        )
    checked = [
        (None, 0) if entry is None else _check_one(
            entry, shape, "scribbles" if not is_batch else f"scribbles[{i}]", n_channels)
        for i, (entry, shape) in enumerate(zip(entries, shapes))
    ]
    return [c[0] for c in checked], [c[1] for c in checked]


def resize_scribbles(channels, shape):
    """Scribble map at another (training) size, keeping every stroke.

    Nearest-neighbour resampling would drop strokes thinner than the shrink factor. Instead
    every scribbled pixel votes for its class at the pixel of ``shape`` it falls into; each
    target pixel takes its majority class (smallest channel on ties), ``UNLABELLED`` if no
    scribbled pixel falls into it.

    Parameters
    ----------
    channels : ndarray of shape (H, W)
        Channel ids ``>= 0`` and ``UNLABELLED``.
    shape : (h, w)

    Returns
    -------
    resized : ndarray of shape (h, w), int64

    Examples
    --------
    >>> import numpy as np
    >>> line = np.full((4, 4), -1); line[1, :] = 0
    >>> resize_scribbles(line, (2, 2)).tolist()
    [[0, 0], [-1, -1]]
    """
    height, width = channels.shape
    if (height, width) == tuple(shape):
        return channels.copy()
    rows, cols = np.nonzero(channels != UNLABELLED)
    classes = channels[rows, cols]
    n_classes = int(classes.max()) + 1 if classes.size else 1
    cell = ((rows * shape[0]) // height) * shape[1] + (cols * shape[1]) // width
    votes = np.bincount(cell * n_classes + classes, minlength=shape[0] * shape[1] * n_classes)
    votes = votes.reshape(-1, n_classes)
    resized = np.where(votes.any(axis=1), votes.argmax(axis=1), UNLABELLED)
    return resized.reshape(shape).astype(np.int64)
