"""Segmentation Covering: the BSDS500 region benchmark (Arbeláez et al. 2011).

For each annotation, every region ``R`` counts ``|R|`` times its best IoU with a predicted
region; the sums over annotations and images are divided by the pixels summed the same way.
Area-weighted, it rewards a few large correct regions, where best-overlap Mean
(:func:`~skdynaguide.metrics.bsds_best_overlap`) weighs every annotated segment alike; report
both, with the number of segments per image.
"""
from __future__ import annotations

from .scores import _counts, _iou_matrix, _pair, annotated_images

__all__ = ["covering_counts", "segmentation_covering"]


def covering_counts(y_true, y_pred):
    """The numerator and denominator of one annotation's covering by a prediction.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (H, W)
        One annotation and the prediction of the same image.

    Returns
    -------
    covered, pixels : float, int
        ``Σ_R |R| · max_R' IoU(R, R')`` over the annotation's regions ``R``, and ``Σ |R|``.

    Examples
    --------
    >>> from skdynaguide.metrics.covering import covering_counts
    >>> covering_counts([[0, 0, 0, 1]], [[4, 4, 5, 5]])
    (2.5, 4)
    """
    true, pred = _pair(y_true, y_pred, None)
    counts = _counts(true, pred)[0]
    sizes = counts.sum(1)
    return float((sizes * _iou_matrix(counts).max(1)).sum()), int(sizes.sum())


def segmentation_covering(annotations, y_pred, *, relabel=False, connectivity=1):
    """Segmentation Covering of predictions by the human annotations, pooled.

    Parameters
    ----------
    annotations : array-like of shape (H, W), list of such, or a list of such lists
        The annotation(s) of one image, or one list per image.
    y_pred : array-like of shape (H, W), or a list of them
        The prediction of each image.
    relabel : bool, default=False
        Split predicted labels into connected components first (for colour clusters that
        span separate places).
    connectivity : {1, 2}, default=1
        Neighbourhood of that relabelling.

    Returns
    -------
    covering : float in [0, 1]
        Summed over annotations and images, then divided: large regions weigh more.

    Examples
    --------
    >>> import numpy as np
    >>> from skdynaguide.metrics import segmentation_covering
    >>> truth = np.array([[0, 0, 0, 1]])
    >>> segmentation_covering([truth], np.array([[4, 4, 4, 5]]))
    1.0
    >>> segmentation_covering([truth], np.array([[4, 4, 5, 5]]))
    0.625
    """
    covered = pixels = 0.0
    for annots, pred in annotated_images(annotations, y_pred, relabel, connectivity):
        for annotation in annots:
            c, n = covering_counts(annotation, pred)
            covered, pixels = covered + c, pixels + n
    return covered / pixels if pixels else 0.0
