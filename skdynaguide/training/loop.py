"""The training loop of DynaGuide, as plain functions.

:func:`train` trains one fresh network per image, for B ≥ 1 images of one training size in
the same forward and backward passes, under one frozen
:class:`~skdynaguide.training.config.TrainingConfig`. One image is the plain case (its own network);
several are stacked as grouped convolutions (:mod:`skdynaguide.training.batched`) when the
configuration allows it, and otherwise train one after the other through the same code.
The estimator resolves its parameters into the configuration once, plans the batches and
calls :func:`train` per batch; :func:`segment_image` and :func:`segment_batch` call it with
plain keyword values.

Each iteration, for every image: forward pass, argmax ``C``, ``q'`` clusters, the objective
of :mod:`skdynaguide.losses.objective`; then one SGD step on the sum of the losses, and the
per-image stopping rules (``min_labels``, ``tol``, a loss that is not finite). An image that
stops takes its labels from its final response and leaves the stack.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from .._image import relabel_consecutive
from ..losses.objective import HISTORY_KEYS, ImageTargets, Objective, Step
from .batched import StackedDynaGuideNet, select_groups
from .config import TrainingConfig, TrainingImage
from .resolution import final_labels, full_size_labels
from .scribbles import resize_scribbles
from .silhouette import silhouette_count
from .step import MEMORY_FORMAT, check_response, forward, gradient_step, network_input, new_optimizer

__all__ = ["train", "segment_image", "segment_batch", "SegmentationResult", "image_targets",
           "seeded_network"]


@dataclass
class SegmentationResult:
    """What training on one image produced.

    ``labels`` are the clusters of the final training response at the image's full size
    (upsampled); ``network`` is the trained network of an image that trained shrunk, kept
    for the full-size pass of the output pipeline
    (:class:`~skdynaguide.output.FinalResolution`), None otherwise or when its response
    was not finite. The rest is numpy.

    Examples
    --------
    >>> import numpy as np
    >>> from skdynaguide.losses import HuberContinuity, FSFWeight
    >>> from skdynaguide.training import segment_image
    >>> image = np.zeros((8, 8, 3), dtype=np.float32); image[:, 4:] = 1.0
    >>> result = segment_image(image, seed=0, n_features=8, n_clusters=4, max_iter=3,
    ...                        continuity=HuberContinuity(), weighting=FSFWeight())
    >>> result.n_iter, result.stop_reason, result.converged
    (3, 'max_iter', False)
    """

    labels: np.ndarray
    n_iter: int
    stop_reason: str
    history: dict = field(default_factory=dict)
    min_labels: int | None = None  # the stopping rule's q' floor actually used
    silhouette_k: int | None = None
    network: object = None
    training_shape: tuple | None = None

    @property
    def converged(self):
        return self.stop_reason != "max_iter"


def segment_image(image, guide=None, *, seed, scribbles=None, min_labels=None, progress=None,
                  final_resolution="full", **params):
    """Train a fresh network (by default :class:`~skdynaguide.training.network.DynaGuideNet`) on one image.

    Parameters
    ----------
    image : ndarray of shape (H, W, 3), float32 in [0, 1]
        A validated image (see :func:`skdynaguide._image.check_image`).
    guide : ndarray of shape (H, W) with labels 0..K-1, or None
        The static guidance map ``P``; None trains without the guidance term (DynaSeg/DFC).
    seed : int
        Seeds the network's initialisation, the modularity subsamples and the silhouette
        phase.
    scribbles : ndarray of shape (H, W), or None
        DFC's user scribbles in channel space (see :func:`skdynaguide.training.scribbles.check_scribbles`):
        channel ids on scribbled pixels, ``UNLABELLED`` elsewhere. Adds
        ``scribble_weight · L_scr`` and restricts ``L_sim`` to the unscribbled pixels.
    min_labels : int or None
        Stop as soon as the number of clusters ``q'`` is at most this.
    progress : callable, optional
        Called as ``progress(iteration, n_labels)`` after each step, ``n_labels`` the list of
        ``q'`` of the images still training (here one).
    final_resolution : {"full", "training"}, default="full"
        Labels of an image trained shrunk (``max_pixels``): from its network's pass over the
        full-size image, or from the training-size response upsampled.
    **params
        The fields of :class:`~skdynaguide.training.config.TrainingConfig`: ``continuity`` and
        ``weighting`` (required), ``network``, ``n_features``, ``n_clusters``,
        ``matching`` (needed with a guide), ``guidance_weight``, ``scribble_weight``,
        ``modularity``, ``modularity_weight``, ``silhouette_range``,
        ``silhouette_samples``, ``max_iter``, ``tol``, ``n_iter_no_change``, ``lr``,
        ``momentum``, ``max_pixels``, ``device``.

    Returns
    -------
    SegmentationResult

    See Also
    --------
    train : The same loop for several images, under a ready configuration.

    Examples
    --------
    The estimator's loop without the estimator: a two-colour image, no guidance, L1 continuity
    with DFC's fixed weight:

    >>> import numpy as np
    >>> from skdynaguide.losses import FixedWeight, L1Continuity
    >>> from skdynaguide.training import segment_image
    >>> image = np.zeros((8, 8, 3), dtype=np.float32); image[:, 4:] = 1.0
    >>> result = segment_image(image, seed=0, n_features=8, n_clusters=4, max_iter=20,
    ...                        continuity=L1Continuity(), weighting=FixedWeight(5.0))
    >>> result.labels.shape, sorted(result.history)[:3]
    ((8, 8), ['continuity', 'continuity_weight', 'guidance'])
    """
    item = TrainingImage(image=image, guide=guide, seed=seed, scribbles=scribbles,
                         min_labels=min_labels)
    result = train([item], TrainingConfig(**params), progress=progress)[0]
    return _at_resolution(result, image, final_resolution)


def segment_batch(images, guides, *, seeds, scribbles=None, min_labels=None, progress=None,
                  final_resolution="full", **params):
    """Train one fresh network per image, the images of one training size in the same passes.

    Equivalent to ``[segment_image(image, guide, seed=seed, ...) for ...]`` (up to float
    rounding) with the same keyword arguments, which mean what they mean there; the images
    must share their training size (:func:`~skdynaguide.training.batched.batch_plan` groups them).
    Under a configuration that does not stack
    (:attr:`~skdynaguide.training.config.TrainingConfig.stackable`) they train one by one.

    Parameters
    ----------
    images : list of ndarray of shape (H, W, 3), float32 in [0, 1]
    guides : list of (ndarray of shape (H, W), or None)
        One guidance map per image.
    seeds : list of int
        One seed per image: image ``b`` is initialised exactly as ``segment_image`` with
        ``seed=seeds[b]`` initialises it.
    scribbles : list of (ndarray or None), or None
        DFC's scribbles per image.
    min_labels : int, None, or list of such
        The ``min_labels`` stopping rule, for all images or per image.
    progress : callable, optional
        As in :func:`train`.
    final_resolution : {"full", "training"}, default="full"
        As in :func:`segment_image`.
    **params
        The fields of :class:`~skdynaguide.training.config.TrainingConfig`, as in
        :func:`segment_image`.

    Returns
    -------
    results : list of SegmentationResult
        One per image, in the order of ``images``.

    Examples
    --------
    Two images of one size, each with its own network, trained in the same passes:

    >>> import numpy as np
    >>> from skdynaguide.training import segment_batch
    >>> from skdynaguide.losses import FSFWeight, HuberContinuity
    >>> left = np.zeros((8, 8, 3), dtype=np.float32); left[:, :4] = 1.0
    >>> top = np.zeros((8, 8, 3), dtype=np.float32); top[:4] = 1.0
    >>> results = segment_batch([left, top], [None, None], seeds=[0, 1], n_features=8,
    ...                         n_clusters=4, max_iter=5, continuity=HuberContinuity(),
    ...                         weighting=FSFWeight())
    >>> [r.labels.shape for r in results], [r.n_iter for r in results]
    ([(8, 8), (8, 8)], [5, 5])
    """
    n_images = len(images)
    if not (len(guides) == len(seeds) == n_images):
        raise ValueError(f"got {n_images} images, {len(guides)} guides and {len(seeds)} seeds")
    scribbles = [None] * n_images if scribbles is None else list(scribbles)
    floors = (list(min_labels) if isinstance(min_labels, (list, tuple))
              else [min_labels] * n_images)
    items = [TrainingImage(image=image, guide=guide, seed=int(seed), scribbles=scribble,
                           min_labels=floor)
             for image, guide, seed, scribble, floor in zip(images, guides, seeds, scribbles,
                                                             floors)]
    results = train(items, TrainingConfig(**params), progress=progress)
    return [_at_resolution(result, image, final_resolution)
            for result, image in zip(results, images)]


def _at_resolution(result, image, final_resolution):
    """``result`` with the labels of its network's full-size pass (``"full"``), if it has
    one: what the output pipeline's first step does for the estimators."""
    if final_resolution == "full" and result.network is not None:
        labels = full_size_labels(result.network, image)
        if labels is not None:
            result.labels = relabel_consecutive(labels)
    return result


def train(images, config, *, progress=None):
    """Train one fresh network per image under ``config``: the loop behind the estimator.

    Images whose pixels are all identical are one segment without training (their network
    is still built and run once, so that a broken configuration fails on every image alike).
    The others train together, stacked, when ``config.stackable``, and otherwise one after
    the other; either way every image gets the result it would get alone (up to float
    rounding when stacked).

    Parameters
    ----------
    images : list of TrainingImage
        B ≥ 1 images with their guide, seed, scribbles and ``min_labels``. Those trained
        together must share their training size (``config.training_shape``).
    config : TrainingConfig
    progress : callable, optional
        Called as ``progress(iteration, n_labels)`` after each step, ``n_labels`` the list
        of ``q'`` of the images still training.

    Returns
    -------
    results : list of SegmentationResult
        One per image, in order.

    Examples
    --------
    >>> import numpy as np
    >>> from skdynaguide.training.config import TrainingConfig, TrainingImage
    >>> from skdynaguide.losses import FSFWeight, HuberContinuity
    >>> from skdynaguide.training import train
    >>> config = TrainingConfig(continuity=HuberContinuity(), weighting=FSFWeight(),
    ...                         n_features=8, n_clusters=4, max_iter=5)
    >>> stripes = np.zeros((8, 8, 3), np.float32); stripes[:, ::2] = 1.0
    >>> flat = np.full((8, 8, 3), 0.5, np.float32)
    >>> results = train([TrainingImage(image=stripes, seed=0),
    ...                  TrainingImage(image=flat, seed=1)], config)
    >>> [(r.n_iter, r.stop_reason) for r in results]
    [(5, 'max_iter'), (0, 'uniform')]
    """
    results = []
    for group in [images] if config.stackable else [[item] for item in images]:
        runs = [_ImageRun(item, config) for item in group]
        for run in runs:
            if run.item.uniform:
                run.skip_uniform(config)
        _train_together([run for run in runs if run.labels is None], config, progress)
        results.extend(run.result() for run in runs)
    return results


class _ImageRun:
    """One image's training: its input, targets and network, and what the loop tracks."""

    def __init__(self, item, config):
        self.item = item
        self.shape = config.training_shape(*item.size)
        self.x = network_input(item.image, self.shape, config.device)
        self.targets = image_targets(item, self.shape, config.device)
        self.net = seeded_network(config, item.seed)
        self.min_labels = item.min_labels
        self.history = {key: [] for key in HISTORY_KEYS}
        self.previous, self.n_stable, self.last_clusters = None, 0, None
        self.floor, self.silhouette_k, self.n_iter = 1, None, 0
        self.stop_reason, self.labels, self.network = "max_iter", None, None

    def skip_uniform(self, config):
        # Every pixel identical: one segment is the only answer, and training would only
        # split the border pixels off through the convolutions' zero padding.
        self.net.to(config.device, memory_format=MEMORY_FORMAT).train()
        x = self.x.contiguous(memory_format=MEMORY_FORMAT)
        with torch.no_grad():
            check_response(self.net(x), x, 1, config.n_clusters, self.net)
        self.stop_reason = "uniform"
        self.labels = np.zeros(self.item.size, dtype=np.int64)

    def silhouette(self, features, config):
        """DynaSeg's silhouette phase: its count floors ``q'`` from now on."""
        flat = features.detach()[0].flatten(1).T.float().cpu().numpy()
        self.silhouette_k, _ = silhouette_count(flat, config.silhouette_range,
                                                config.silhouette_samples, self.item.seed)
        self.floor = self.silhouette_k
        self.min_labels = max(self.min_labels or 0, self.silhouette_k)

    def stops(self, clusters, n_labels, config):
        """Apply the stopping rules after a step; whether this image stops here."""
        self.last_clusters = clusters
        if self.min_labels is not None and n_labels <= self.min_labels:
            self.stop_reason = "min_labels"
        elif config.tol is not None:
            if self.previous is not None:
                changed = float((clusters != self.previous).float().mean())
                self.n_stable = self.n_stable + 1 if changed < config.tol else 0
                if self.n_stable >= config.n_iter_no_change:
                    self.stop_reason = "tol"
            self.previous = clusters
        return self.stop_reason != "max_iter"

    def finish(self, response, net=None):
        """Full-size labels from the final response (None: the loss was not finite).

        ``net`` is this image's trained network, kept for the full-size pass of the output
        pipeline when the image trained shrunk and its response is finite.
        """
        self.labels, self.stop_reason = final_labels(response, self.stop_reason,
                                                     self.last_clusters, self.item.size)
        if net is not None and self.stop_reason != "nonfinite":
            self.network = net

    def result(self):
        return SegmentationResult(
            labels=relabel_consecutive(self.labels),
            n_iter=self.n_iter,
            stop_reason=self.stop_reason,
            history={k: np.asarray(v, dtype=np.float64) for k, v in self.history.items()},
            min_labels=self.min_labels,
            silhouette_k=self.silhouette_k,
            network=self.network,
            training_shape=tuple(self.shape),
        )


def _train_together(runs, config, progress):
    """The loop: B ≥ 0 images in the same passes, one network each."""
    if not runs:
        return
    shapes = {run.shape for run in runs}
    if len(shapes) > 1:
        raise ValueError(f"images of one batch must share their training size, got {shapes}")
    net = runs[0].net if len(runs) == 1 else StackedDynaGuideNet([run.net for run in runs])
    net.to(config.device, memory_format=MEMORY_FORMAT).train()
    x = torch.cat([run.x for run in runs], dim=1).contiguous(memory_format=MEMORY_FORMAT)
    optimizer = new_optimizer(net, config)
    objective = Objective.from_config(config)
    q = config.n_clusters
    for n_iter in range(1, config.max_iter + 1):
        n_stack = len(runs)
        features = _capture(net) if config.needs_features else None
        response = forward(net, x, config, n_images=n_stack)
        if features is not None:
            features["value"] = features["value"].float()
        responses = response.view(n_stack, q, *response.shape[-2:])
        clusters = responses.argmax(1)
        total, stepped, finished, n_labels_all = None, [], [], []
        for position, run in enumerate(runs):
            run.n_iter = n_iter
            image_clusters = clusters[position:position + 1]
            n_labels = int(torch.unique(image_clusters).numel())
            n_labels_all.append(n_labels)
            image_features = None
            if features is not None:
                width = features["value"].shape[1] // n_stack
                image_features = features["value"].narrow(1, position * width, width)
            if n_iter == 1 and config.silhouette_range:
                run.silhouette(image_features, config)
            loss, record = objective(Step(responses[position:position + 1], image_clusters,
                                          n_labels, run.floor, image_features, run.targets))
            for key, value in record.items():
                run.history[key].append(value)
            if not torch.isfinite(loss):
                # diverged (e.g. lr far too large): keep the last sane clustering; no
                # gradient reaches its weights
                run.stop_reason = "nonfinite"
                run.finish(None)
                finished.append(position)
                continue
            total = loss if total is None else total + loss
            stepped.append((position, run, image_clusters, n_labels))
        if progress is not None:
            progress(n_iter, n_labels_all)
        if total is not None:
            gradient_step(optimizer, total)

        stopping = [position for position, run, image_clusters, n_labels in stepped
                    if run.stops(image_clusters, n_labels, config)]
        if n_iter == config.max_iter:
            stopping = [position for position, *_ in stepped]
        if stopping:
            with torch.no_grad():
                final = net(x)
            for position in stopping:
                run = runs[position]
                shrunk = run.shape != run.item.size
                run.finish(final.narrow(1, position * q, q),
                           net=(net if n_stack == 1 else net.select([position]))
                           if shrunk else None)
            finished.extend(stopping)
        if len(finished) == n_stack:
            break
        if finished:
            # the finished images leave the stack: the others go on with their own weights
            keep = [p for p in range(n_stack) if p not in finished]
            net, optimizer, x = _select(net, optimizer, x, keep, config)
            runs = [runs[p] for p in keep]


def image_targets(item, shape, device):
    """The image's guide and scribbles at the training size, and its random stream.

    Parameters
    ----------
    item : TrainingImage
    shape : (int, int)
        The training size ``(h, w)``; guide and scribbles are resized to it by nearest
        neighbour, so labels stay labels.
    device : str or torch.device

    Returns
    -------
    ImageTargets

    Examples
    --------
    >>> import numpy as np
    >>> from skdynaguide.training.config import TrainingImage
    >>> from skdynaguide.training import image_targets
    >>> guide = np.repeat([[0, 0, 1, 1]], 4, axis=0)
    >>> item = TrainingImage(image=np.zeros((4, 4, 3), np.float32), seed=0, guide=guide)
    >>> targets = image_targets(item, (2, 2), "cpu")
    >>> targets.guide.tolist(), targets.n_guide
    ([[[0, 1], [0, 1]]], 2)
    """
    guide, n_guide, scribbles = None, 0, None
    if item.guide is not None:
        n_guide = int(item.guide.max()) + 1
        guide = torch.from_numpy(np.ascontiguousarray(item.guide)).to(device)
        if tuple(shape) != item.guide.shape:  # nearest neighbour: labels stay labels
            guide = F.interpolate(guide[None, None].float(), size=tuple(shape),
                                  mode="nearest-exact")[0, 0].long()
        guide = guide[None]
    if item.scribbles is not None:
        scribbles = torch.from_numpy(resize_scribbles(item.scribbles, tuple(shape)))[None]
        scribbles = scribbles.to(device)
    return ImageTargets(guide=guide, n_guide=n_guide, scribbles=scribbles,
                        generator=torch.Generator().manual_seed(item.seed))


def seeded_network(config, seed):
    """A fresh network, initialised under ``seed`` without touching torch's global stream.

    Parameters
    ----------
    config : TrainingConfig
        Its ``network(n_features, n_clusters)`` builds the module.
    seed : int

    Examples
    --------
    >>> import torch
    >>> from skdynaguide.training.config import TrainingConfig
    >>> from skdynaguide.losses import FSFWeight, HuberContinuity
    >>> from skdynaguide.training import seeded_network
    >>> config = TrainingConfig(continuity=HuberContinuity(), weighting=FSFWeight(),
    ...                         n_features=4, n_clusters=3)
    >>> a, b = seeded_network(config, 7), seeded_network(config, 7)
    >>> all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    True
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = config.network(config.n_features, config.n_clusters)
    if config.needs_features and not isinstance(getattr(net, "response", None), torch.nn.Module):
        raise ValueError(
            f"the modularity loss and the silhouette phase read the features entering the "
            f"network's 1x1 response layer, but {type(net).__name__} has no `response` submodule"
        )
    return net


def _select(net, optimizer, x, keep, config):
    """The stack, its optimizer (momentum included) and its input restricted to ``keep``."""
    smaller = net.select(keep).to(config.device, memory_format=MEMORY_FORMAT)
    smaller_optimizer = new_optimizer(smaller, config)
    for old, new in zip(net.parameters(), smaller.parameters()):
        buffer = optimizer.state.get(old, {}).get("momentum_buffer")
        if buffer is not None:
            smaller_optimizer.state[new]["momentum_buffer"] = select_groups(buffer, net.n_nets,
                                                                            keep)
    x = select_groups(x, net.n_nets, keep, dim=1).contiguous(memory_format=MEMORY_FORMAT)
    return smaller, smaller_optimizer, x


def _capture(net):
    """A dict that the next forward pass fills with the features entering ``net.response``."""
    store = {}

    def hook(module, inputs):
        store["value"] = inputs[0]
        handle.remove()

    handle = net.response.register_forward_pre_hook(hook)
    return store
