"""The named scoring protocols of :func:`~skdynaguide.evaluate` and ``skdynaguide evaluate``.

``"bsds"``: best-overlap segment mIoU, All / Fine / Coarse / Mean pooled over the segments
of all images, and Segmentation Covering. ``"hungarian"``: one-to-one matched mIoU and pixel accuracy per image (and
annotation), averaged. ``"hungarian-accumulated"``: one confusion matrix accumulated over
the dataset, matched once.
"""
from __future__ import annotations

from .covering import segmentation_covering
from .scores import bsds_best_overlap, hungarian_miou, pixel_accuracy
from .scoring import hungarian_score

__all__ = ["PROTOCOLS", "image_scores", "dataset_scores"]

#: Protocol names accepted by :func:`~skdynaguide.evaluate`.
PROTOCOLS = ("bsds", "hungarian", "hungarian-accumulated")


def image_scores(protocol, annotations, labels, relabel, ignore_index):
    """The scores of one image's ``labels`` against its ``annotations`` under ``protocol``.

    Examples
    --------
    >>> import numpy as np
    >>> from skdynaguide.metrics._protocols import image_scores
    >>> truth, labels = np.array([[0, 0, 1, 1]]), np.array([[5, 5, 7, 7]])
    >>> image_scores("hungarian", [truth], labels, relabel=False, ignore_index=None)
    {'miou': 1.0, 'accuracy': 1.0}
    """
    if protocol == "bsds":
        return _bsds(annotations, labels, relabel)
    preds = [labels] * len(annotations)
    return dict(miou=hungarian_miou(annotations, preds, ignore_index=ignore_index),
                accuracy=pixel_accuracy(annotations, preds, ignore_index=ignore_index))


def dataset_scores(protocol, truths, labels, relabel, ignore_index):
    """The dataset figures of ``protocol``: ``truths`` holds one annotation list per image.

    Examples
    --------
    >>> import numpy as np
    >>> from skdynaguide.metrics._protocols import dataset_scores
    >>> truth, labels = np.array([[0, 0, 1, 1]]), np.array([[5, 5, 7, 7]])
    >>> sorted(dataset_scores("bsds", [[truth]], [labels], relabel=False, ignore_index=None))
    ['all', 'coarse', 'covering', 'fine', 'mean']
    """
    if protocol == "bsds":
        return _bsds(truths, labels, relabel)
    accumulate = protocol == "hungarian-accumulated"
    return {name: hungarian_score(truths, labels, metric=metric, accumulate=accumulate,
                                  ignore_index=ignore_index)
            for name, metric in (("miou", "miou"), ("accuracy", "accuracy"))}


def _bsds(annotations, labels, relabel):
    return {**bsds_best_overlap(annotations, labels, relabel=relabel),
            "covering": segmentation_covering(annotations, labels, relabel=relabel)}
