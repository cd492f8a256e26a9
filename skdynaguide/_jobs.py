"""Where the images of one fit train, and their labels made there.

The estimator plans batches of images; each batch is a joblib job (in this process or a
worker) that trains its images (:func:`skdynaguide.training.train`) and runs the output
pipeline on them (:mod:`skdynaguide.output`), so that the networks stay in the worker and
only labels travel back.
"""
from __future__ import annotations

import contextlib
import os
import warnings
from typing import NamedTuple

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from ._estimator import progress_bar
from ._image import relabel_consecutive
from .output import OutputContext, run_steps
from .training import train
from .training.batched import batch_plan
from .training.loop import SegmentationResult

__all__ = ["Segmented", "effective_n_jobs", "plan_batches", "progress", "torch_threads",
           "train_batch", "untrained", "warn_about"]


class Segmented(NamedTuple):
    """What a segmenter's ``_segment`` made of the images, one entry per image."""

    results: list
    segments: list
    guides: list
    hierarchies: list
    is_batch: bool
    config: object


def effective_n_jobs(n_jobs, n_images):
    if n_jobs is None or n_images == 1:
        return 1
    cores = os.cpu_count() or 1
    n_jobs = cores + 1 + n_jobs if n_jobs < 0 else n_jobs
    return max(1, min(n_jobs, n_images))


def plan_batches(items, config, batch_size):
    """Image indices grouped into the batches trained together (singletons: one by one)."""
    if batch_size == 1 or len(items) == 1:
        return [[i] for i in range(len(items))]
    if not config.stackable:
        warnings.warn(
            f"batch_size={batch_size} is ignored: only network='cnn' without the "
            "modularity term trains in batches; the images train one by one",
            UserWarning,
            stacklevel=4,
        )
        return [[i] for i in range(len(items))]
    return batch_plan([item.size for item in items], batch_size, config.max_pixels)


def progress(iterable, verbose):
    if verbose < 1:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc="images", unit="image", disable=len(iterable) < 2)


@contextlib.contextmanager
def torch_threads(n_threads):
    """Run the block with torch limited to ``n_threads`` intra-op threads, then restore."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def _worker_threads(n_jobs, parent):
    """The context of a job: its share of threads in a worker process, else unchanged.

    A worker *process* (loky, multiprocessing, a Dask worker process) runs one job at a time
    and takes ``cores // n_jobs`` threads. A job in the caller's own process (serial, or a
    thread of the threading backend or of an in-process Dask worker) leaves the process-wide
    setting alone: the caller set the share once around all of them (see ``_segment``), and
    concurrent jobs setting and restoring it would race.
    """
    if n_jobs > 1 and os.getpid() != parent:
        return torch_threads(max(1, (os.cpu_count() or 1) // n_jobs))
    return contextlib.nullcontext()


def untrained(item):
    """The result of an image whose network the output does not need: no training, its
    guide (or one segment) as the clusters."""
    labels = item.guide if item.guide is not None else np.zeros(item.size, np.int64)
    return SegmentationResult(labels=relabel_consecutive(labels), n_iter=0,
                              stop_reason="not trained")


def train_batch(items, config, steps, verbose, n_jobs, indices, parent=None,
                boundaries=None, train_networks=True):
    """Train the images of one batch (in this process or a joblib worker), with a progress
    bar at ``verbose >= 1`` and the worker's share of threads, and make their labels.

    Returns ``(result, labels, hierarchy)`` per image: ``result.labels`` are the clusters at
    full size (the output pipeline's first step), ``labels`` what the whole pipeline makes
    of them, ``hierarchy`` the boundary hierarchy they are a cut of (None unless the
    pipeline cuts one). The trained networks stay in the worker. With ``train_networks``
    false no network is trained (:func:`untrained`).
    """
    which = f"image {indices[0]}" if len(indices) == 1 else f"images {indices}"
    with progress_bar(verbose, config.max_iter, which, "it",
                      lambda iteration, n_labels: {"q": max(n_labels, default=0)}) as progress, \
            _worker_threads(n_jobs, parent):
        results = (train(items, config, progress=progress) if train_networks
                   else [untrained(item) for item in items])
        outputs = []
        for item, result in zip(items, results):
            context = OutputContext(image=item.image, guide=item.guide, network=result.network,
                                    training_shape=result.training_shape,
                                    boundaries=boundaries)
            # steps[0] is FinalResolution: the clusters_, numbered 0..q'-1
            result.labels = relabel_consecutive(run_steps(steps[:1], result.labels, context))
            result.network = None
            labels = run_steps(steps[1:], result.labels, context)
            outputs.append((result, labels, context.hierarchy))
    return outputs


def warn_about(results, max_iter, tol):
    """Warn about the images whose training ended badly: unconverged under a stopping rule,
    collapsed to one segment, or stopped by a loss that was not finite."""
    # images under a fixed iteration budget have nothing to converge to
    late = [r for r in results if r.stop_reason == "max_iter"
            and (r.min_labels is not None or tol is not None)]
    if late:
        which = "the image" if len(results) == 1 else f"{len(late)} of {len(results)} images"
        floors = sorted({r.min_labels for r in late if r.min_labels is not None})
        warnings.warn(
            f"Training of {which} stopped at max_iter={max_iter} before reaching "
            f"min_labels={floors[0] if len(floors) == 1 else floors or None} or "
            f"tol={tol}; the result is usable, raise max_iter to train longer",
            ConvergenceWarning,
            stacklevel=4,
        )
    collapsed = [i for i, r in enumerate(results)
                 if r.stop_reason not in ("uniform", "not trained") and r.labels.max() == 0]
    if collapsed:
        warnings.warn(
            f"The segmentation of image(s) {collapsed} collapsed to a single segment "
            "although their pixels differ; set min_labels (e.g. 2) to stop before the "
            "collapse, give guidance, or lower the continuity weight",
            RuntimeWarning,
            stacklevel=4,
        )
    bad = [i for i, r in enumerate(results) if r.stop_reason == "nonfinite"]
    if bad:
        warnings.warn(
            f"The loss became NaN or infinite for image(s) {bad}; training stopped early "
            "(try a smaller lr)",
            RuntimeWarning,
            stacklevel=4,
        )
