"""Scores for unsupervised segmentation.

Predicted labels are arbitrary ids, so every score first matches them to the ground truth:

* :func:`hungarian_miou` and :func:`pixel_accuracy` match predicted segments to ground-truth
  classes one-to-one (``scipy.optimize.linear_sum_assignment`` on the IoU matrix), per image
  or on a confusion matrix accumulated over a dataset (the DiffSeg / PiCIE convention).
* :func:`best_overlap_miou` and :func:`bsds_best_overlap` follow the BSD500 / VOC protocol of
  DFC, DynaSeg and DynaGuide: every ground-truth segment takes its best IoU over all
  predicted segments; the score is the mean over ground-truth segments pooled over images
  (and annotators).
* :func:`boundary_precision_recall_fscore`, :func:`boundary_fscore` and :func:`bsds_boundary`
  follow the BSDS boundary benchmark: boundary pixels of the prediction are matched, within a
  distance tolerance, to those of the human annotations. Region scores barely see a boundary
  that is off by a few pixels; these do.
"""
from __future__ import annotations

import numpy as np
from scipy.ndimage import distance_transform_edt
from scipy.optimize import linear_sum_assignment

from .._image import check_label_map, check_scalar_float, relabel_connected
from .._labels import as_label_maps

__all__ = [
    "contingency_matrix",
    "hungarian_miou",
    "pixel_accuracy",
    "segment_best_overlap",
    "best_overlap_miou",
    "bsds_best_overlap",
    "relabel_connected",
    "boundary_map",
    "boundary_precision_recall_fscore",
    "boundary_fscore",
    "bsds_boundary",
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
    trues, preds = as_label_maps(y_true), as_label_maps(y_pred)
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
    return _pool_bsds([[segment_best_overlap(a, pred) for a in annots]
                       for annots, pred in annotated_images(annotations, y_pred, relabel,
                                                            connectivity)])


def annotated_images(annotations, y_pred, relabel=False, connectivity=1):
    """``(annotations, prediction)`` per image, checked, the prediction relabelled into
    connected components if asked: the inputs of the BSD500 protocols.

    ``annotations`` are one image's list of maps (with ``y_pred`` one map) or one list per
    image.

    Examples
    --------
    >>> pairs = annotated_images([np.array([[0, 1]])], np.array([[4, 4]]))
    >>> len(pairs), len(pairs[0][0])
    (1, 1)
    """
    preds = as_label_maps(y_pred)
    single = len(preds) == 1 and not _is_nested(annotations)
    per_image = [annotations] if single else list(annotations)
    if len(per_image) != len(preds):
        raise ValueError(f"annotations for {len(per_image)} images but {len(preds)} predictions")
    pairs = []
    for annots, pred in zip(per_image, preds):
        annots = as_label_maps(annots)
        if not annots:
            raise ValueError("an image has no annotations")
        if relabel:
            pred = relabel_connected(pred, connectivity=connectivity)
        pairs.append((annots, pred))
    return pairs


def _pool_bsds(per_image_ious):
    """All / Fine / Coarse / Mean from, per image, one array of best IoUs per annotation."""
    pooled = {"all": [], "fine": [], "coarse": []}
    for ious in per_image_ious:
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
        # a list of maps, not the rows of one map written as nested lists ([[0, 0, 1]])
        return not first or np.ndim(first[0]) >= 2
    return isinstance(first, np.ndarray) and first.ndim == 3


def boundary_map(labels):
    """Boundary pixels of a label map, one pixel wide, whatever the label ids.

    A pixel is a boundary pixel when its label differs from that of its right or its lower
    neighbour: every crack between two differently labelled 4-neighbours is given to the
    pixel on its upper / left side, as the BSDS benchmark's ``seg2bmap`` does (which also
    looks at the lower-right neighbour).
    This is ``skimage.segmentation.find_boundaries(labels, mode="subpixel")`` brought back to
    pixel resolution, computed directly because that mode is slow on large images; the other
    modes of ``find_boundaries`` mark a straight edge between two labels two pixels wide
    (``"thick"``) or give a result that depends on which label is 0 (``"inner"``,
    ``"outer"``).

    Parameters
    ----------
    labels : array-like of shape (H, W)
        Integer label map.

    Returns
    -------
    boundaries : ndarray of shape (H, W), dtype bool

    Examples
    --------
    >>> boundary_map([[0, 0, 1, 1],
    ...               [0, 0, 1, 1]]).astype(int).tolist()
    [[0, 1, 0, 0], [0, 1, 0, 0]]
    """
    return _boundaries(check_label_map(labels))


def _boundaries(array):
    """:func:`boundary_map` of an already validated label map."""
    boundaries = np.zeros(array.shape, dtype=bool)
    boundaries[:, :-1] |= array[:, :-1] != array[:, 1:]
    boundaries[:-1, :] |= array[:-1, :] != array[1:, :]
    return boundaries


def _distance_to(boundaries):
    """Euclidean distance of every pixel to the nearest boundary pixel (inf if there is none)."""
    if not boundaries.any():
        return np.full(boundaries.shape, np.inf)
    return distance_transform_edt(~boundaries)


def _fraction_within(pixels, distance, tolerance):
    """Fraction of ``pixels`` within ``tolerance`` of the boundary behind ``distance``.

    With no pixel to check the fraction is 1: nothing was missed and nothing is wrong.
    """
    count = int(pixels.sum())
    if count == 0:
        return 1.0
    return int((distance[pixels] <= tolerance).sum()) / count


def _harmonic_mean(precision, recall):
    total = precision + recall
    return 0.0 if total == 0 else 2.0 * precision * recall / total


def boundary_precision_recall_fscore(annotations, y_pred, *, tolerance=2.0):
    """Boundary precision, recall and F-measure of one image (after the BSDS benchmark).

    Boundary pixels come from :func:`boundary_map`. A predicted boundary pixel is correct
    when it lies within ``tolerance`` (Euclidean distance) of the boundary of some
    annotation; a boundary pixel of an annotation is found when it lies within ``tolerance``
    of the predicted boundary.

    Parameters
    ----------
    annotations : array-like of shape (H, W) or (n, H, W), or list of array-like of shape (H, W)
        One human annotation of the image, or several (BSD500 has 4–9 per image).
    y_pred : array-like of shape (H, W)
        Predicted label map.
    tolerance : float, default=2.0
        Largest distance, in pixels, at which a boundary pixel still matches; 0 asks for the
        same pixel. The BSDS benchmark uses 0.0075 times the image diagonal (about 4 pixels
        at 321 x 481), which cannot tell a boundary that follows an 8-pixel grid from a sharp
        one.

    Returns
    -------
    precision : float
        Fraction of predicted boundary pixels within ``tolerance`` of the union of the
        annotations' boundaries; 1 when the prediction has no boundary (no pixel is wrong).
    recall : float
        For each annotation, the fraction of its boundary pixels within ``tolerance`` of the
        predicted boundary, averaged over annotations; an annotation without boundary counts
        1 (nothing to find).
    fscore : float
        Harmonic mean of precision and recall, 0 when both are 0. A one-segment prediction
        scores 0 against annotations that have boundaries, and 1 when no annotation has one.

    Notes
    -----
    Unlike the one-to-one pixel matching of the BSDS benchmark, every pixel within the
    tolerance counts as matched, so two predicted boundaries running side by side within the
    tolerance of one true boundary are both correct. Splitting predicted labels into
    connected components (:func:`relabel_connected`) does not change the boundaries.

    Examples
    --------
    >>> truth = np.zeros((4, 8), dtype=int); truth[:, 4:] = 1
    >>> pred = np.zeros((4, 8), dtype=int); pred[:, 5:] = 1   # the edge one pixel off
    >>> boundary_precision_recall_fscore(truth, pred)
    (1.0, 1.0, 1.0)
    >>> boundary_precision_recall_fscore(truth, pred, tolerance=0)
    (0.0, 0.0, 0.0)
    """
    tolerance = check_scalar_float(tolerance, "tolerance", min_value=0.0)
    empty_list = isinstance(annotations, (list, tuple)) and not annotations
    # as_label_maps([]) would be one empty map, not an empty list of annotations
    annots = [] if empty_list else as_label_maps(annotations)
    if not annots:  # an empty list or a (0, H, W) stack
        raise ValueError("annotations is empty: give at least one (H, W) annotation")
    pred = _boundaries(check_label_map(y_pred, name="y_pred"))
    truths = [
        _boundaries(check_label_map(a, shape=pred.shape, name=f"annotation {k}"))
        for k, a in enumerate(annots)
    ]
    union = np.logical_or.reduce(truths)
    precision = _fraction_within(pred, _distance_to(union), tolerance)
    to_pred = _distance_to(pred)
    recall = float(np.mean([_fraction_within(t, to_pred, tolerance) for t in truths]))
    return precision, recall, _harmonic_mean(precision, recall)


def boundary_fscore(annotations, y_pred, *, tolerance=2.0):
    """Boundary F-measure of one image against one or several annotations.

    The third value of :func:`boundary_precision_recall_fscore`; parameters are the same.

    Parameters
    ----------
    annotations : array-like of shape (H, W) or (n, H, W), or list of array-like of shape (H, W)
        One human annotation of the image, or several.
    y_pred : array-like of shape (H, W)
        Predicted label map.
    tolerance : float, default=2.0
        Largest distance, in pixels, at which a boundary pixel still matches.

    Returns
    -------
    fscore : float

    Examples
    --------
    >>> truth = np.zeros((4, 8), dtype=int); truth[:, 4:] = 1
    >>> boundary_fscore(truth, np.zeros((4, 8), dtype=int))  # one segment: nothing found
    0.0
    """
    return boundary_precision_recall_fscore(annotations, y_pred, tolerance=tolerance)[2]


def bsds_boundary(annotations, y_pred, *, tolerance=2.0):
    """Boundary precision, recall and F-measure of a dataset, averaged over images.

    Parameters
    ----------
    annotations : list of array-like of shape (H, W), or a list of such lists
        The human annotations of one image, or one entry per image (a map, a list of maps
        or an ``(n, H, W)`` stack), as for :func:`bsds_best_overlap`.
    y_pred : array-like of shape (H, W), or a list of them
        The prediction of each image; images may differ in size.
    tolerance : float, default=2.0
        Largest distance, in pixels, at which a boundary pixel still matches.

    Returns
    -------
    scores : dict
        ``"precision"``, ``"recall"`` and ``"f"``: the means over images of the values of
        :func:`boundary_precision_recall_fscore` (``"f"`` is the mean of the per-image
        F-measures, not the harmonic mean of the mean precision and recall).

    Examples
    --------
    >>> truth = np.zeros((4, 8), dtype=int); truth[:, 4:] = 1
    >>> good, flat = truth.copy(), np.zeros((4, 8), dtype=int)
    >>> bsds_boundary([truth, truth], [good, flat])
    {'precision': 1.0, 'recall': 0.5, 'f': 0.5}
    """
    preds = as_label_maps(y_pred)
    single = len(preds) == 1 and not _is_nested(annotations)
    per_image = [annotations] if single else list(annotations)
    if len(per_image) != len(preds):
        raise ValueError(f"annotations for {len(per_image)} images but {len(preds)} predictions")
    scores = np.array([
        boundary_precision_recall_fscore(annots, pred, tolerance=tolerance)
        for annots, pred in zip(per_image, preds)
    ])
    return dict(zip(("precision", "recall", "f"), (float(v) for v in scores.mean(axis=0))))
