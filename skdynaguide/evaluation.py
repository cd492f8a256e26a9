"""Segment a dataset and score it under a named protocol (SPEC §3)."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .metrics import bsds_best_overlap, hungarian_miou, pixel_accuracy
from .scoring import _per_image, hungarian_score

__all__ = ["evaluate", "Evaluation", "PROTOCOLS"]

#: Protocol names accepted by :func:`evaluate`.
PROTOCOLS = ("bsds", "hungarian", "hungarian-accumulated")


@dataclass
class Evaluation:
    """What :func:`evaluate` returns.

    Attributes
    ----------
    protocol : str
    per_image : list of dict
        One row per image: ``"index"``, ``"height"``, ``"width"``, ``"n_segments"``,
        ``"seconds"`` (segmentation wall time) and the protocol's per-image scores.
    summary : dict
        The dataset figures: ``"all"``, ``"fine"``, ``"coarse"``, ``"mean"`` (pooled over
        segments) for ``"bsds"``; ``"miou"`` and ``"accuracy"`` for the Hungarian protocols;
        plus ``"n_images"`` and ``"seconds_per_image"`` (median).
    labels : list of ndarray
        The predicted label maps.
    """

    protocol: str
    per_image: list = field(default_factory=list)
    summary: dict = field(default_factory=dict)
    labels: list = field(default_factory=list)


def evaluate(segmenter, images, y, *, protocol="bsds", relabel=False, ignore_index=None,
             verbose=0):
    """Segment ``images`` one by one with ``segmenter.predict`` and score them against ``y``.

    Parameters
    ----------
    segmenter : estimator with ``predict``
        E.g. a :class:`~skdynaguide.DynaGuideSegmenter` (its fitted state is not touched).
    images : list of array-like
        Images of any sizes.
    y : list
        Per image, a label map or a list of annotations (BSD500).
    protocol : {"bsds", "hungarian", "hungarian-accumulated"}, default="bsds"
        ``"bsds"``: best-overlap segment mIoU, All / Fine / Coarse / Mean pooled over the
        segments of all images. ``"hungarian"``: one-to-one matched mIoU and pixel accuracy
        per image (and annotation), averaged. ``"hungarian-accumulated"``: one confusion
        matrix accumulated over the dataset, matched once (DiffSeg / PiCIE on COCO-Stuff;
        predicted ids must mean the same class in every image).
    relabel : bool, default=False
        Split predictions into connected components before scoring (``"bsds"`` only).
    ignore_index : int, optional
        Ground-truth label left out (Hungarian protocols only).
    verbose : int, default=0
        1 shows a progress bar over images.

    Returns
    -------
    Evaluation

    Examples
    --------
    >>> import numpy as np
    >>> from skdynaguide import DynaGuideSegmenter
    >>> image = np.zeros((16, 16, 3)); image[:, 8:] = 1.0
    >>> truth = (np.arange(16)[None, :] >= 8).repeat(16, axis=0).astype(int)
    >>> seg = DynaGuideSegmenter(n_features=16, n_clusters=8, max_iter=20, random_state=0)
    >>> result = evaluate(seg, [image], [truth], protocol="hungarian")
    >>> sorted(result.summary)
    ['accuracy', 'miou', 'n_images', 'seconds_per_image']
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    if relabel and protocol != "bsds":
        raise ValueError("relabel applies to the 'bsds' protocol only")
    if not isinstance(images, (list, tuple)) or not images:
        raise TypeError("images must be a non-empty list of images")
    truths, _ = _per_image(y, [None] * len(images))

    bar = range(len(images))
    if verbose >= 1:
        from tqdm.auto import tqdm

        bar = tqdm(bar, desc="evaluate", unit="image")
    result = Evaluation(protocol=protocol)
    for i in bar:
        start = time.perf_counter()
        labels = np.asarray(segmenter.predict(images[i]))
        seconds = time.perf_counter() - start
        result.labels.append(labels)
        row = dict(index=i, height=labels.shape[0], width=labels.shape[1],
                   n_segments=int(len(np.unique(labels))), seconds=seconds)
        row.update(_image_scores(protocol, truths[i], labels, relabel, ignore_index))
        result.per_image.append(row)

    result.summary = _dataset_scores(protocol, truths, result.labels, relabel, ignore_index)
    result.summary["n_images"] = len(images)
    result.summary["seconds_per_image"] = float(np.median([r["seconds"] for r in result.per_image]))
    return result


def _image_scores(protocol, annotations, labels, relabel, ignore_index):
    if protocol == "bsds":
        return bsds_best_overlap(annotations, labels, relabel=relabel)
    preds = [labels] * len(annotations)
    return dict(miou=hungarian_miou(annotations, preds, ignore_index=ignore_index),
                accuracy=pixel_accuracy(annotations, preds, ignore_index=ignore_index))


def _dataset_scores(protocol, truths, labels, relabel, ignore_index):
    if protocol == "bsds":
        return bsds_best_overlap(truths, labels, relabel=relabel)
    accumulate = protocol == "hungarian-accumulated"
    return {name: hungarian_score(truths, labels, metric=metric, accumulate=accumulate,
                                  ignore_index=ignore_index)
            for name, metric in (("miou", "miou"), ("accuracy", "accuracy"))}
