"""Scorers for model selection: the metrics of :mod:`skdynaguide.metrics` as
``make_scorer`` objects, reachable by name.

A scorer is called as ``scorer(segmenter, X, y)`` (the scikit-learn convention): it runs
``segmenter.predict(X)`` and compares the label maps with ``y``. ``y`` holds one entry per
image: a label map, or for data with several human annotations per image (BSD500) a list of
maps. Images may differ in size.

Names (:data:`SCORER_NAMES`):

``"bsds_all"``, ``"bsds_fine"``, ``"bsds_coarse"``, ``"bsds_mean"``
    Best-overlap segment mIoU of the BSD500 protocol, pooled over images;
    ``"bsds_all"`` is what :meth:`DynaGuideSegmenter.score` returns. Append ``"_cc"`` to
    relabel predictions into connected components first.
``"hungarian_miou"``, ``"pixel_accuracy"``
    One-to-one Hungarian matching per image (and per annotation), averaged.
``"hungarian_miou_accumulated"``, ``"pixel_accuracy_accumulated"``
    Hungarian matching on a confusion matrix accumulated over the images (the DiffSeg /
    PiCIE COCO-Stuff convention; predicted ids must mean the same class in every image).
``"boundary_f"``, ``"boundary_precision"``, ``"boundary_recall"``
    Boundary F-measure, precision and recall after the BSDS boundary benchmark, with a
    tolerance of 2 pixels, averaged over images.

Examples
--------
>>> from skdynaguide.metrics.scoring import get_scorer
>>> get_scorer("bsds_mean")
make_scorer(bsds_score, response_method='predict', which=mean)
"""
from __future__ import annotations

from sklearn.metrics import make_scorer

from .._labels import annotations_per_image
from .covering import segmentation_covering
from .scores import bsds_best_overlap, bsds_boundary, hungarian_miou, pixel_accuracy

__all__ = ["bsds_score", "covering_score", "hungarian_score", "boundary_score", "get_scorer",
           "SCORER_NAMES"]

_BSDS_KEYS = ("all", "fine", "coarse", "mean")
_BOUNDARY_KEYS = ("f", "precision", "recall")


def bsds_score(y_true, y_pred, *, which="all", relabel=False):
    """One figure of the BSD500 best-overlap protocol, for ``make_scorer``.

    Parameters
    ----------
    y_true : list
        Per image, a label map or a list (or ``(n, H, W)`` stack) of annotations.
    y_pred : list of ndarray
        Predicted label maps, one per image.
    which : {"all", "fine", "coarse", "mean"}, default="all"
    relabel : bool, default=False
        Connected-component relabelling of the predictions first.

    Examples
    --------
    >>> import numpy as np
    >>> truth = [[np.array([[0, 0, 1, 1]]), np.array([[0, 0, 0, 0]])]]
    >>> bsds_score(truth, [np.array([[5, 5, 6, 6]])], which="fine")
    1.0
    """
    if which not in _BSDS_KEYS:
        raise ValueError(f"which must be one of {_BSDS_KEYS}, got {which!r}")
    truths, preds = annotations_per_image(y_true, y_pred)
    return bsds_best_overlap(truths, preds, relabel=relabel)[which]


def covering_score(y_true, y_pred, *, relabel=False):
    """Segmentation Covering of the predictions by the annotations, for ``make_scorer``.

    Parameters
    ----------
    y_true : list
        Per image, a label map or a list (or ``(n, H, W)`` stack) of annotations.
    y_pred : list of ndarray
        Predicted label maps, one per image.
    relabel : bool, default=False
        Connected-component relabelling of the predictions first.

    Examples
    --------
    >>> import numpy as np
    >>> covering_score([np.array([[0, 0, 1, 1]])], [np.array([[5, 5, 6, 6]])])
    1.0
    """
    truths, preds = annotations_per_image(y_true, y_pred)
    return segmentation_covering(truths, preds, relabel=relabel)


def hungarian_score(y_true, y_pred, *, metric="miou", accumulate=False, ignore_index=None):
    """Hungarian-matched mIoU or pixel accuracy, for ``make_scorer``.

    Every (annotation, prediction) pair of every image counts once; with ``accumulate`` the
    confusion matrix of all pairs is matched once.

    Parameters
    ----------
    y_true : list
        Per image, a label map or a list of annotations.
    y_pred : list of ndarray
        Predicted label maps, one per image.
    metric : {"miou", "accuracy"}, default="miou"
    accumulate : bool, default=False
    ignore_index : int, optional

    Examples
    --------
    >>> import numpy as np
    >>> round(hungarian_score([np.array([[0, 0, 1, 1]])], [np.array([[3, 3, 3, 7]])]), 4)
    0.5833
    """
    functions = {"miou": hungarian_miou, "accuracy": pixel_accuracy}
    if metric not in functions:
        raise ValueError(f"metric must be one of {sorted(functions)}, got {metric!r}")
    truths, preds = annotations_per_image(y_true, y_pred)
    pairs = [(t, p) for annots, p in zip(truths, preds) for t in annots]
    return functions[metric]([t for t, _ in pairs], [p for _, p in pairs],
                             ignore_index=ignore_index, accumulate=accumulate)


def boundary_score(y_true, y_pred, *, which="f", tolerance=2.0):
    """Boundary F-measure, precision or recall averaged over images, for ``make_scorer``.

    Every image is scored against all its annotations at once by
    :func:`skdynaguide.metrics.boundary_precision_recall_fscore`.

    Parameters
    ----------
    y_true : list
        Per image, a label map or a list (or ``(n, H, W)`` stack) of annotations.
    y_pred : list of ndarray
        Predicted label maps, one per image.
    which : {"f", "precision", "recall"}, default="f"
        The figure returned.
    tolerance : float, default=2.0
        Largest distance, in pixels, at which a boundary pixel still matches.

    Examples
    --------
    >>> import numpy as np
    >>> truth = np.zeros((4, 8), dtype=int); truth[:, 4:] = 1
    >>> pred = np.zeros((4, 8), dtype=int); pred[:, 5:] = 1   # the edge one pixel off
    >>> boundary_score([truth], [pred]), boundary_score([truth], [pred], tolerance=0)
    (1.0, 0.0)
    """
    if which not in _BOUNDARY_KEYS:
        raise ValueError(f"which must be one of {_BOUNDARY_KEYS}, got {which!r}")
    truths, preds = annotations_per_image(y_true, y_pred)
    return bsds_boundary(truths, preds, tolerance=tolerance)[which]


def _build():
    scorers = {}
    for which in _BSDS_KEYS:
        scorers[f"bsds_{which}"] = make_scorer(bsds_score, which=which)
        scorers[f"bsds_{which}_cc"] = make_scorer(bsds_score, which=which, relabel=True)
    scorers["covering"] = make_scorer(covering_score)
    scorers["covering_cc"] = make_scorer(covering_score, relabel=True)
    for metric, name in (("miou", "hungarian_miou"), ("accuracy", "pixel_accuracy")):
        scorers[name] = make_scorer(hungarian_score, metric=metric)
        scorers[f"{name}_accumulated"] = make_scorer(hungarian_score, metric=metric,
                                                     accumulate=True)
    for which in _BOUNDARY_KEYS:
        scorers[f"boundary_{which}"] = make_scorer(boundary_score, which=which)
    return scorers


_SCORERS = _build()

#: Every name :func:`get_scorer` accepts.
SCORER_NAMES = tuple(sorted(_SCORERS))


def get_scorer(name):
    """The scorer called ``name`` (see :data:`SCORER_NAMES`), for ``GridSearchCV(scoring=...)``.

    ``GridSearchCV`` resolves only scikit-learn's own strings, so pass the object:
    ``scoring=get_scorer("bsds_mean")``, or a dict of several for multi-metric search.

    Examples
    --------
    >>> import numpy as np
    >>> from skdynaguide import DynaGuideSegmenter
    >>> from skdynaguide.metrics.scoring import get_scorer
    >>> image = np.zeros((12, 12, 3)); image[:, 6:] = 1.0
    >>> truth = np.repeat([[0] * 6 + [1] * 6], 12, axis=0)
    >>> seg = DynaGuideSegmenter(n_features=8, n_clusters=8, max_iter=10, random_state=0)
    >>> score = get_scorer("hungarian_miou")(seg, [image], [truth])
    >>> 0.0 <= score <= 1.0
    True
    """
    if name not in _SCORERS:
        raise ValueError(f"unknown scorer {name!r}; choose one of {list(SCORER_NAMES)}")
    return _SCORERS[name]
