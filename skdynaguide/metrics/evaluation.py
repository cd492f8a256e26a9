"""Segment a dataset and score it under a named protocol."""
from __future__ import annotations

import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._labels import annotations_per_image
from ._protocols import PROTOCOLS, dataset_scores, image_scores
from .._records import parameter_record

__all__ = ["evaluate", "Evaluation", "PROTOCOLS"]


@dataclass
class Evaluation:
    """What :func:`evaluate` returns.

    Attributes
    ----------
    protocol : str
    per_image : list of dict
        One row per image scored: ``"index"``, ``"source"`` (the file, or None for an
        array), ``"height"``, ``"width"``, ``"n_segments"``, ``"seconds"`` (segmentation wall
        time; NaN for labels resumed from ``output_dir``), ``"resumed"`` and the protocol's
        per-image scores.
    summary : dict
        The dataset figures over the images scored: ``"all"``, ``"fine"``, ``"coarse"``,
        ``"mean"`` (pooled over segments) and ``"covering"`` (Segmentation Covering) for
        ``"bsds"``; ``"miou"`` and ``"accuracy"`` for
        the Hungarian protocols; plus ``"n_images"`` (scored), ``"n_failed"`` and
        ``"seconds_per_image"`` (median over the images segmented in this call).
    labels : list of ndarray
        The predicted label maps of the images scored.
    failed : list of dict
        One row per image left out: ``"index"``, ``"source"`` and ``"error"`` (the exception
        type and message).

    Examples
    --------
    >>> import numpy as np
    >>> from skdynaguide import DynaGuideSegmenter, evaluate
    >>> image = np.zeros((12, 12, 3)); image[:, 6:] = 1.0
    >>> truth = np.repeat([[0] * 6 + [1] * 6], 12, axis=0)
    >>> seg = DynaGuideSegmenter(n_features=8, n_clusters=8, max_iter=10, random_state=0)
    >>> result = evaluate(seg, [image], [truth])
    >>> result.protocol, len(result.per_image), sorted(result.summary)[:2]
    ('bsds', 1, ['all', 'coarse'])
    """

    protocol: str
    per_image: list = field(default_factory=list)
    summary: dict = field(default_factory=dict)
    labels: list = field(default_factory=list)
    failed: list = field(default_factory=list)


def evaluate(segmenter, images, y, *, protocol="bsds", relabel=False, ignore_index=None,
             on_error="skip", output_dir=None, verbose=0):
    """Segment ``images`` one by one with ``segmenter.predict`` and score them against ``y``.

    Made for long jobs: images may be file paths read one at a time, an image that fails is
    reported and left out while the others go on, and with ``output_dir`` every label map is
    saved as it is made, so that running the same call again after a crash resumes.

    Parameters
    ----------
    segmenter : estimator with ``predict``
        E.g. a :class:`~skdynaguide.DynaGuideSegmenter` (its fitted state is not touched).
        Give it an int ``random_state`` for results that do not depend on resuming.
    images : list of array-like or path-like
        Images of any sizes, or image files (read with :func:`skdynaguide.io.read_image`
        when their turn comes).
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
    on_error : {"skip", "raise"}, default="skip"
        ``"skip"``: an image that cannot be read, validated, segmented or scored is recorded
        in :attr:`Evaluation.failed`, left out of every score, and named in one
        ``UserWarning`` at the end (a ``ValueError`` when every image fails). ``"raise"``:
        the first such error propagates.
    output_dir : str or path-like, optional
        Folder where the label map of every image is saved (``<stem>.npy`` for a file,
        ``image-<index>.npy`` for an array), each written to a temporary file and renamed
        into place. Labels already there are loaded instead of segmenting again (resume).
        The folder records the segmenter's parameters and refuses to resume with different
        ones (``ValueError``).
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
    ['accuracy', 'miou', 'n_failed', 'n_images', 'seconds_per_image']
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    if relabel and protocol != "bsds":
        raise ValueError("relabel applies to the 'bsds' protocol only")
    if on_error not in ("skip", "raise"):
        raise ValueError(f"on_error must be 'skip' or 'raise', got {on_error!r}")
    if not isinstance(images, (list, tuple)) or not images:
        raise TypeError("images must be a non-empty list of images or image files")
    truths, _ = annotations_per_image(y, [None] * len(images))
    keys = _output_keys(images)
    if output_dir is not None:
        output_dir = _prepare_output_dir(output_dir, segmenter)

    bar = range(len(images))
    if verbose >= 1:
        from tqdm.auto import tqdm

        bar = tqdm(bar, desc="evaluate", unit="image")
    result = Evaluation(protocol=protocol)
    kept = []
    for i in bar:
        source = os.fspath(images[i]) if _is_path(images[i]) else None
        try:
            labels, seconds, resumed = _labels_of(segmenter, images[i], output_dir, keys[i])
            row = dict(index=i, source=source, height=labels.shape[0], width=labels.shape[1],
                       n_segments=int(len(np.unique(labels))), seconds=seconds,
                       resumed=resumed)
            row.update(image_scores(protocol, truths[i], labels, relabel, ignore_index))
        except Exception as exc:  # noqa: BLE001 - a long job reports and goes on
            if on_error == "raise" or isinstance(exc, _ResumeMismatch):
                raise
            result.failed.append(dict(index=i, source=source,
                                      error=f"{type(exc).__name__}: {exc}"))
            continue
        kept.append(i)
        result.labels.append(labels)
        result.per_image.append(row)

    if not kept:
        first = result.failed[0]
        raise ValueError(f"every one of the {len(images)} images failed; the first, "
                         f"{first['source'] or 'image ' + str(first['index'])}: {first['error']}")
    if result.failed:
        listed = "; ".join(f"{f['source'] or 'image ' + str(f['index'])}: {f['error']}"
                           for f in result.failed[:5])
        more = f" (and {len(result.failed) - 5} more)" if len(result.failed) > 5 else ""
        warnings.warn(f"{len(result.failed)} of {len(images)} images failed and are left out "
                      f"of the scores (Evaluation.failed lists them): {listed}{more}",
                      UserWarning, stacklevel=2)
    result.summary = dataset_scores(protocol, [truths[i] for i in kept], result.labels,
                                     relabel, ignore_index)
    result.summary["n_images"] = len(kept)
    result.summary["n_failed"] = len(result.failed)
    timed = [r["seconds"] for r in result.per_image if not r["resumed"]]
    result.summary["seconds_per_image"] = float(np.median(timed)) if timed else float("nan")
    return result


class _ResumeMismatch(ValueError):
    """``output_dir`` holds labels made with other parameters."""


def _is_path(item):
    return isinstance(item, (str, os.PathLike))


def _output_keys(images):
    """The file name of each image's saved labels: its stem, else ``image-<index>``."""
    keys = [Path(os.fspath(im)).stem if _is_path(im) else f"image-{i:05d}"
            for i, im in enumerate(images)]
    seen = {}
    for i, key in enumerate(keys):  # a/x.png and b/x.jpg must not share a file
        if key in seen:
            keys[i] = f"{key}-{i:05d}"
        seen[key] = i
    return keys


def _prepare_output_dir(output_dir, segmenter):
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    changes = parameter_record(output_dir, segmenter)
    if changes is not None:
        raise _ResumeMismatch(
            f"{output_dir} holds labels made by a segmenter with other parameters ({changes}; "
            f"see {output_dir / 'segmenter.txt'}); use another output_dir, or delete it to "
            "start afresh")
    return output_dir


def _labels_of(segmenter, image, output_dir, key):
    """(labels, seconds, resumed) of one image, loaded from ``output_dir`` when saved."""
    from ..io import atomic_save, read_image

    saved = None if output_dir is None else output_dir / f"{key}.npy"
    if saved is not None and saved.exists():
        return np.load(saved, allow_pickle=False), float("nan"), True
    if _is_path(image):
        image = read_image(image)
    start = time.perf_counter()
    labels = np.asarray(segmenter.predict(image))
    seconds = time.perf_counter() - start
    if labels.ndim != 2:
        raise ValueError(f"the segmenter returned labels of shape {labels.shape} for one image")
    if saved is not None:
        def save(tmp):
            with open(tmp, "wb") as handle:
                np.save(handle, labels, allow_pickle=False)

        atomic_save(saved, save)
    return labels, seconds, False
