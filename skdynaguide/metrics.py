"""Scores for unsupervised segmentation (SPEC §3).

Predicted labels are arbitrary ids, so every score first matches them to the ground truth:

* :func:`hungarian_miou` and :func:`pixel_accuracy` match predicted segments to ground-truth
  classes one-to-one (``scipy.optimize.linear_sum_assignment`` on the IoU matrix), per image
  or on a confusion matrix accumulated over a dataset (the DiffSeg / PiCIE convention).
* :func:`best_overlap_miou` and :func:`bsds_best_overlap` follow the BSD500 / VOC protocol of
  DFC, DynaSeg and DynaGuide: every ground-truth segment takes its best IoU over all
  predicted segments; the score is the mean over ground-truth segments pooled over images
  (and annotators).
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from skimage.measure import label as _connected_components

from ._image import check_label_map

__all__ = [
    "contingency_matrix",
    "hungarian_miou",
    "pixel_accuracy",
    "segment_best_overlap",
    "best_overlap_miou",
    "bsds_best_overlap",
    "relabel_connected",
]


def _pair(y_true, y_pred, ignore_index):
    """Validated flat (true, pred) arrays with ignored pixels removed."""
    true = check_label_map(y_true, name="y_true")
    pred = check_label_map(y_pred, shape=true.shape, name="y_pred")
    true, pred = true.ravel(), pred.ravel()
    if ignore_index is not None:
        keep = true != ignore_index
        true, pred = true[keep], pred[keep]
    return true, pred


def contingency_matrix(y_true, y_pred, *, ignore_index=None):
    """Pixel counts of every (true label, predicted label) pair.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (H, W)
        Integer label maps.
    ignore_index : int, optional
        True label whose pixels are left out (e.g. 255 for "void").

    Returns
    -------
    counts : ndarray of shape (n_true, n_pred), dtype int64
    true_ids, pred_ids : ndarray
        The labels behind the rows and columns.

    Examples
    --------
    >>> counts, t, p = contingency_matrix([[0, 0, 1]], [[5, 7, 7]])
    >>> counts.tolist()
    [[1, 1], [0, 1]]
    """
    true, pred = _pair(y_true, y_pred, ignore_index)
    return _counts(true, pred)


def _counts(true, pred):
    true_ids, true_idx = np.unique(true, return_inverse=True)
    pred_ids, pred_idx = np.unique(pred, return_inverse=True)
    flat = true_idx.astype(np.int64) * len(pred_ids) + pred_idx
    counts = np.bincount(flat, minlength=len(true_ids) * len(pred_ids))
    return counts.reshape(len(true_ids), len(pred_ids)), true_ids, pred_ids


def _iou_matrix(counts):
    union = counts.sum(1, keepdims=True) + counts.sum(0, keepdims=True) - counts
    return counts / np.maximum(union, 1)


def _hungarian(counts):
    """IoU of each true class under the best one-to-one assignment (0 if unmatched)."""
    iou = _iou_matrix(counts)
    per_class = np.zeros(counts.shape[0])
    if counts.size:
        rows, cols = linear_sum_assignment(iou, maximize=True)
        per_class[rows] = iou[rows, cols]
        return per_class, counts[rows, cols].sum()
    return per_class, 0


def _as_list(y):
    """One (H, W) map, a list of maps (of any sizes) or an (N, H, W) stack -> list of maps."""
    if isinstance(y, (list, tuple)) and len(y) and np.ndim(y[0]) != 1:
        return list(y)  # a list of maps; a list of rows (np.ndim 1) is one nested-list map
    array = np.asarray(y)
    if array.ndim == 3:
        return list(array)
    return [array]


def _hungarian_scores(y_true, y_pred, ignore_index, accumulate):
    """(mIoU, pixel accuracy) per image or on the accumulated confusion."""
    pairs = [_pair(t, p, ignore_index) for t, p in zip(*_align(y_true, y_pred))]
    if accumulate:
        true = np.concatenate([t for t, _ in pairs])
        pred = np.concatenate([p for _, p in pairs])
        pairs = [(true, pred)]
    mious, accs = [], []
    for true, pred in pairs:
        if true.size == 0:
            raise ValueError("every pixel is ignored: nothing to score")
        per_class, matched = _hungarian(_counts(true, pred)[0])
        mious.append(per_class.mean())
        accs.append(matched / true.size)
    return float(np.mean(mious)), float(np.mean(accs))


def hungarian_miou(y_true, y_pred, *, ignore_index=None, accumulate=False):
    """Mean IoU after one-to-one Hungarian matching of predicted to true labels.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (H, W), or lists of them
        Ground truth and prediction; lists are scored as a dataset.
    ignore_index : int, optional
        True label excluded from the score (its pixels and its class).
    accumulate : bool, default=False
        False: score each image on its own and average (predicted ids are per image).
        True: accumulate one confusion matrix over all images and match once (predicted ids
        must mean the same class in every image; the DiffSeg / PiCIE COCO-Stuff protocol).

    Returns
    -------
    miou : float
        Mean over true classes of the IoU with the matched predicted label; true classes
        left unmatched (more true classes than predicted labels) count as 0.

    Examples
    --------
    >>> round(hungarian_miou([[0, 0, 1, 1]], [[3, 3, 3, 7]]), 4)  # (2/3 + 1/2) / 2
    0.5833
    """
    return _hungarian_scores(y_true, y_pred, ignore_index, accumulate)[0]


def pixel_accuracy(y_true, y_pred, *, ignore_index=None, accumulate=False):
    """Fraction of pixels whose predicted label matches the truth under Hungarian matching.

    Parameters are those of :func:`hungarian_miou`.

    Examples
    --------
    >>> pixel_accuracy([[0, 0, 1, 1]], [[3, 3, 3, 7]])
    0.75
    """
    return _hungarian_scores(y_true, y_pred, ignore_index, accumulate)[1]


def relabel_connected(labels, *, connectivity=1):
    """Split every label into its connected components, labelled 0..k-1.

    Parameters
    ----------
    labels : array-like of shape (H, W)
        Integer label map.
    connectivity : {1, 2}, default=1
        1: 4-neighbourhood; 2: 8-neighbourhood.

    Examples
    --------
    >>> relabel_connected([[0, 1, 0]]).tolist()
    [[0, 1, 2]]
    """
    array = check_label_map(labels)
    if connectivity not in (1, 2):
        raise ValueError(f"connectivity must be 1 or 2, got {connectivity!r}")
    return _connected_components(array, background=array.min() - 1, connectivity=connectivity) - 1


def segment_best_overlap(y_true, y_pred, *, ignore_index=None):
    """Best IoU of every true segment over all predicted segments.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (H, W)
        Ground-truth segments and predicted segments of one image.
    ignore_index : int, optional
        True label that is not a segment.

    Returns
    -------
    ious : ndarray of shape (n_true_segments,)

    Examples
    --------
    >>> segment_best_overlap([[0, 0, 1, 1]], [[3, 3, 3, 7]]).round(3).tolist()
    [0.667, 0.5]
    """
    true, pred = _pair(y_true, y_pred, ignore_index)
    if true.size == 0:  # every pixel ignored: no true segment
        return np.zeros(0)
    counts = _counts(true, pred)[0]
    return _iou_matrix(counts).max(axis=1)


def best_overlap_miou(y_true, y_pred, *, ignore_index=None):
    """Best-overlap segment mIoU, pooled over the segments of all images.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (H, W), or lists of them
        One ground-truth map per prediction.
    ignore_index : int, optional
        True label that is not a segment.

    Examples
    --------
    >>> round(best_overlap_miou([[0, 0, 1, 1]], [[3, 3, 3, 7]]), 4)
    0.5833
    """
    pairs = zip(*_align(y_true, y_pred))
    ious = np.concatenate([segment_best_overlap(t, p, ignore_index=ignore_index) for t, p in pairs])
    if ious.size == 0:
        raise ValueError("every pixel is ignored: nothing to score")
    return float(ious.mean())


def _align(y_true, y_pred):
    trues, preds = _as_list(y_true), _as_list(y_pred)
    if len(trues) != len(preds):
        raise ValueError(f"{len(trues)} ground-truth maps but {len(preds)} predictions")
    return trues, preds


def bsds_best_overlap(annotations, y_pred, *, relabel=False, connectivity=1):
    """The BSD500 protocol: best-overlap mIoU under All / Fine / Coarse annotations.

    Parameters
    ----------
    annotations : list of array-like of shape (H, W), or a list of such lists
        The human annotations of one image (BSD500 has 4–9), or one list per image.
    y_pred : array-like of shape (H, W), or a list of them
        The prediction of each image.
    relabel : bool, default=False
        Split predicted labels into connected components before scoring (the DFC author's
        advice for methods whose labels are colour clusters spanning separate regions).
    connectivity : {1, 2}, default=1
        Neighbourhood of that relabelling.

    Returns
    -------
    scores : dict
        ``"all"``: mean over the segments of every annotation; ``"fine"``: only the annotation
        with the most segments of each image; ``"coarse"``: the fewest; ``"mean"``: the
        average of the three. Pooled over images.

    Examples
    --------
    >>> gt = [np.array([[0, 0, 1, 1]]), np.array([[0, 0, 0, 0]])]
    >>> s = bsds_best_overlap(gt, np.array([[5, 5, 6, 6]]))
    >>> s["fine"], s["coarse"]
    (1.0, 0.5)
    """
    preds = _as_list(y_pred)
    single = len(preds) == 1 and not _is_nested(annotations)
    per_image = [annotations] if single else list(annotations)
    if len(per_image) != len(preds):
        raise ValueError(f"annotations for {len(per_image)} images but {len(preds)} predictions")
    pooled = {"all": [], "fine": [], "coarse": []}
    for annots, pred in zip(per_image, preds):
        annots = _as_list(annots)
        if not annots:
            raise ValueError("an image has no annotations")
        if relabel:
            pred = relabel_connected(pred, connectivity=connectivity)
        ious = [segment_best_overlap(a, pred) for a in annots]
        sizes = [len(i) for i in ious]
        pooled["all"].extend(ious)
        pooled["fine"].append(ious[int(np.argmax(sizes))])
        pooled["coarse"].append(ious[int(np.argmin(sizes))])
    scores = {key: float(np.concatenate(v).mean()) for key, v in pooled.items()}
    scores["mean"] = (scores["all"] + scores["fine"] + scores["coarse"]) / 3.0
    return scores


def _is_nested(annotations):
    """True when ``annotations`` is a list of per-image annotation lists."""
    if isinstance(annotations, np.ndarray):
        return False
    first = annotations[0] if len(annotations) else None
    if isinstance(first, (list, tuple)):
        return True
    return isinstance(first, np.ndarray) and first.ndim == 3
