"""The layouts of ground truth and predictions that every score accepts.

A prediction is an ``(H, W)`` label map; several are a list (images may differ in size) or
an ``(N, H, W)`` stack. The ground truth of one image is a label map or, for data with
several human annotations per image, a list or ``(n, H, W)`` stack of them.
"""
from __future__ import annotations

import numpy as np

__all__ = ["as_label_maps", "annotations_per_image"]


def as_label_maps(y):
    """One (H, W) map, a list of maps (of any sizes) or an (N, H, W) stack -> list of maps.

    Examples
    --------
    >>> import numpy as np
    >>> from skdynaguide._labels import as_label_maps
    >>> len(as_label_maps(np.zeros((3, 2, 2)))), len(as_label_maps([[0, 1], [1, 1]]))
    (3, 1)
    """
    if isinstance(y, (list, tuple)) and len(y) and np.ndim(y[0]) != 1:
        return list(y)  # a list of maps; a list of rows (np.ndim 1) is one nested-list map
    array = np.asarray(y)
    if array.ndim == 3:
        return list(array)
    return [array]


def annotations_per_image(y_true, y_pred):
    """(list of per-image annotation lists, list of predictions), checked for length.

    ``y_pred`` is one prediction or a list of them; ``y_true`` has one entry per image, a
    label map or a list (or ``(n, H, W)`` stack) of annotations.

    Examples
    --------
    >>> import numpy as np
    >>> from skdynaguide._labels import annotations_per_image
    >>> truth = np.zeros((4, 2, 2))  # one image with four annotations
    >>> truths, preds = annotations_per_image(truth, np.zeros((2, 2)))
    >>> len(truths), len(truths[0]), len(preds)
    (1, 4, 1)
    """
    preds = y_pred if isinstance(y_pred, list) else [y_pred]
    if isinstance(y_true, np.ndarray):
        # one image: its map or (n, H, W) annotation stack; several: one map per image
        y_true = [y_true] if len(preds) == 1 else list(y_true)
    elif len(preds) == 1 and len(y_true) and np.ndim(y_true[0]) == 1:
        y_true = [y_true]  # one map written as nested lists
    if len(y_true) != len(preds):
        raise ValueError(f"y has {len(y_true)} entries for {len(preds)} images")
    truths = []
    for truth in y_true:
        if isinstance(truth, (list, tuple)) and np.ndim(truth[0]) == 2:
            truths.append(list(truth))
        else:
            array = np.asarray(truth)
            truths.append(list(array) if array.ndim == 3 else [array])
    return truths, preds
