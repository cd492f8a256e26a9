"""One network trained over a collection of images: the loop of the inductive mode.

The per-image loop (:mod:`skdynaguide.training`) trains a fresh network on every image.
Here one network sees many images: each SGD step draws a mini-batch of random crops from
the collection (every image at its training size, with its own guide), passes them
through the network together, and takes the mean over the crops of the same objective
(:class:`~skdynaguide.losses.objective.Objective`: similarity, continuity and guidance,
each crop with its own ``q'``). Because the channels are shared, channel k means the same
thing in every image, and a new image is segmented by a forward pass alone
(:func:`~skdynaguide.training.resolution.full_size_labels`).

:class:`SharedTraining` holds the network, its optimizer (momentum included) and the step
count, so that training can go on later with more images or the next frames of a video
(:meth:`~skdynaguide.InductiveSegmenter.partial_fit`).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch
import torch.nn.functional as F

from ..losses.objective import HISTORY_KEYS, Objective, Step
from .config import training_shape
from .loop import image_targets, seeded_network
from .step import MEMORY_FORMAT, forward, gradient_step, network_input, new_optimizer

__all__ = ["SharedTraining"]


class SharedTraining:
    """A network trained by SGD on random crops of a collection of images.

    Parameters
    ----------
    config : TrainingConfig
        The losses, network, learning rate, momentum, ``max_pixels`` (each image trains
        shrunk to at most this many pixels) and device. Its stopping rules (``tol``,
        ``min_labels``) and the modularity and silhouette settings do not apply here.
    seed : int
        Seeds the network's initialisation.

    Attributes
    ----------
    net : torch.nn.Module
        The network, on ``config.device``.
    n_iter : int
        SGD steps taken so far.
    history : dict of list
        Per step, the mean over the crops of each loss term (keys of
        :data:`~skdynaguide.losses.objective.HISTORY_KEYS`).

    Examples
    --------
    >>> import numpy as np
    >>> from skdynaguide.training.collection import SharedTraining
    >>> from skdynaguide.training.config import TrainingConfig, TrainingImage
    >>> from skdynaguide.losses import FSFWeight, HuberContinuity
    >>> config = TrainingConfig(continuity=HuberContinuity(), weighting=FSFWeight(),
    ...                         n_features=8, n_clusters=4)
    >>> left = np.zeros((12, 12, 3), np.float32); left[:, :6] = 1.0
    >>> top = np.zeros((10, 14, 3), np.float32); top[:5] = 1.0
    >>> training = SharedTraining(config, seed=0)
    >>> training.run([TrainingImage(image=left, seed=0), TrainingImage(image=top, seed=1)],
    ...              n_steps=3, batch_size=2, crop_size=8, rng=np.random.RandomState(0))
    True
    >>> training.n_iter, len(training.history["loss"])
    (3, 3)
    """

    def __init__(self, config, seed):
        self.config = config
        self.net = seeded_network(config, seed).to(config.device, memory_format=MEMORY_FORMAT)
        self.net.train()
        self.optimizer = new_optimizer(self.net, config)
        self.objective = Objective.from_config(config)
        self.n_iter = 0
        self.history = {key: [] for key in HISTORY_KEYS}

    def run(self, images, n_steps, *, batch_size, crop_size, rng, progress=None):
        """Take ``n_steps`` SGD steps on random crops of ``images``.

        Parameters
        ----------
        images : list of TrainingImage
            The images (with their guides; their seeds are not used).
        n_steps : int
        batch_size : int
            Crops per step, drawn from images chosen at random (with replacement when
            there are fewer images than crops).
        crop_size : int or None
            Side of the square crops, cut at random places of the training-size images;
            shorter where an image of the batch is smaller. None trains on whole images
            (those of one batch are then shrunk to the smallest training size among them).
        rng : numpy.random.RandomState
            Draws the images and the crop positions.
        progress : callable, optional
            Called as ``progress(step, loss)`` after each step.

        Returns
        -------
        finite : bool
            False if a loss became NaN or infinite: training stopped before that step's
            update, and the network keeps the weights of the step before.
        """
        config = self.config
        inputs, targets = [], []
        for item in images:
            shape = training_shape(*item.size, config.max_pixels)
            inputs.append(network_input(item.image, shape, config.device)[0])
            targets.append(image_targets(item, shape, config.device))
        coordinates = bool(getattr(self.net, "coordinates", False))
        for _ in range(n_steps):
            chosen = rng.choice(len(inputs), size=batch_size, replace=len(inputs) < batch_size)
            x, crop_targets, windows = _crops([inputs[i] for i in chosen],
                                              [targets[i] for i in chosen], crop_size, rng)
            x = x.contiguous(memory_format=MEMORY_FORMAT)
            response = forward(self.net, x, config, n_images=x.shape[0],
                               window=windows if coordinates else None)
            clusters = response.argmax(1)
            total, records = 0.0, []
            for b, crop in enumerate(crop_targets):
                n_labels = int(torch.unique(clusters[b]).numel())
                loss, record = self.objective(Step(response[b:b + 1], clusters[b:b + 1],
                                                   n_labels, 1, None, crop))
                total = total + loss / len(crop_targets)
                records.append(record)
            if not bool(torch.isfinite(total)):
                return False
            gradient_step(self.optimizer, total)
            self.n_iter += 1
            for key in self.history:
                self.history[key].append(float(np.mean([r[key] for r in records])))
            if progress is not None:
                progress(self.n_iter, float(total))
        return True


def _crops(inputs, targets, crop_size, rng):
    """A batch of crops of one size: ``(x, targets, windows)``.

    ``windows`` place each crop in its training-size image, for the position-aware network.
    """
    heights = [x.shape[1] for x in inputs]
    widths = [x.shape[2] for x in inputs]
    if crop_size is None:
        size = (min(heights), min(widths))
        crops, crop_targets, windows = [], [], []
        for x, target in zip(inputs, targets):
            if x.shape[1:] != size:
                x, target = _resized(x, target, size)
            crops.append(x)
            crop_targets.append(target)
            windows.append((0, 0, *size))
        return torch.stack(crops), crop_targets, windows
    height, width = min(crop_size, *heights), min(crop_size, *widths)
    crops, crop_targets, windows = [], [], []
    for x, target in zip(inputs, targets):
        top = int(rng.randint(x.shape[1] - height + 1))
        left = int(rng.randint(x.shape[2] - width + 1))
        crops.append(x[:, top:top + height, left:left + width])
        crop_targets.append(_cropped(target, top, left, height, width))
        windows.append((top, left, x.shape[1], x.shape[2]))
    return torch.stack(crops), crop_targets, windows


def _cropped(target, top, left, height, width):
    guide = target.guide
    if guide is not None:
        guide = guide[:, top:top + height, left:left + width]
    return replace(target, guide=guide, scribbles=None)


def _resized(x, target, size):
    x = F.interpolate(x[None], size=size, mode="bilinear", antialias=True,
                      align_corners=False)[0]
    guide = target.guide
    if guide is not None:
        guide = F.interpolate(guide[None].float(), size=size, mode="nearest-exact")[0].long()
    return x, replace(target, guide=guide, scribbles=None)
