"""What training is told: one frozen configuration for all images, and the data of each.

The estimator validates its parameters and resolves them (names to loss, weighting,
matching and network objects) into one :class:`TrainingConfig`, built once per
:meth:`~skdynaguide.DynaGuideSegmenter.fit`; the training loop
(:func:`skdynaguide.training.train`) reads nothing else. What differs from one image to the
next (the image, its guide, its seed, its scribbles and its ``min_labels``) travels beside
it as a :class:`TrainingImage`. What follows from the configuration alone is decided here,
once: the size an image trains at (:func:`training_shape`) and whether images can share
their passes (:attr:`TrainingConfig.stackable`).
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .network import CNNBuilder

__all__ = ["TrainingConfig", "TrainingImage", "training_shape", "is_stackable",
           "config_from_params"]


def training_shape(height, width, max_pixels):
    """(h, w) at which to train: the image size, shrunk to at most ``max_pixels`` pixels.

    Examples
    --------
    >>> from skdynaguide.training.config import training_shape
    >>> training_shape(321, 481, 25000)
    (129, 193)
    >>> training_shape(10, 10, None)
    (10, 10)
    """
    if max_pixels is None or height * width <= max_pixels:
        return height, width
    factor = math.sqrt(max_pixels / (height * width))
    train_h = max(1, round(height * factor))
    # a side clamped to one pixel leaves the whole budget to the other
    train_w = max(1, min(round(width * factor), max_pixels // train_h))
    return train_h, train_w


def is_stackable(network):
    """Whether the ``network`` factory builds the plain small CNN, which can be stacked.

    Only :class:`~skdynaguide.training.network.DynaGuideNet` built by
    :class:`~skdynaguide.training.network.CNNBuilder` (``network="cnn"``) is: any other module (the
    ResNet-18 + FPN, a user's class, a subclass that changes ``forward``) would need its own
    grouped version (:class:`~skdynaguide.training.batched.StackedDynaGuideNet`), so those images
    train one by one.

    Examples
    --------
    >>> from skdynaguide import ResNetFPN
    >>> from skdynaguide.training.config import is_stackable
    >>> from skdynaguide.training.network import resolve_network
    >>> is_stackable(resolve_network("cnn")), is_stackable(ResNetFPN(pretrained=False))
    (True, False)
    """
    return type(network) is CNNBuilder


@dataclass(frozen=True)
class TrainingConfig:
    """The resolved settings every image of one fit is trained with.

    Parameters
    ----------
    continuity : ContinuityLoss
        ``L_con``.
    weighting : DynamicWeight
        ``w(q')`` of the continuity term.
    network : callable, default=CNNBuilder()
        ``network(n_features, n_clusters)`` returns the fresh module to train (see
        :func:`skdynaguide.training.network.resolve_network`); it maps ``(1, 3, h, w)`` to
        ``(1, n_clusters, h, w)``. Called once per image, under the image's seed.
    n_features, n_clusters : int, default=100
        Width p of the features entering the response layer and number q of responses.
    matching : GuideMatching or None, default=None
        How the guide is re-expressed in channel space each iteration (needed with a guide).
    guidance_weight : float, default=1.0
        Multiplier λ of the guidance weight: ``g(q') = λ / q'``.
    scribble_weight : float, default=0.5
        Weight of DFC's scribble loss ``L_scr`` on images that have scribbles.
    modularity : ModularityLoss or None, default=None
        DCN's modularity term on the features feeding the response layer; None leaves it out.
    modularity_weight : float, default=0.0
        Weight of the modularity term.
    silhouette_range : (int, int) or None, default=None
        DynaSeg's silhouette phase: at the first iteration the count of k-means clusters of
        the features with the best silhouette score in this range floors ``q'`` in
        ``weighting`` and in the ``min_labels`` test. None skips it.
    silhouette_samples : int, default=2000
        Pixels sampled for the silhouette phase.
    max_iter : int, default=1000
        Maximum number of SGD steps.
    tol : float or None, default=None
        Stop when fewer than this fraction of pixels changed cluster over each of the last
        ``n_iter_no_change`` steps (None disables the test).
    n_iter_no_change : int, default=10
        Window of the ``tol`` test.
    lr, momentum : float, default=0.1, 0.9
        SGD learning rate and momentum.
    max_pixels : int or None, default=None
        Train on the image shrunk to at most this many pixels (:func:`training_shape`). None
        trains at full resolution.
    device : str, default="cpu"
        A resolved torch device.
    precision : {"float32", "bfloat16"}, default="float32"
        Arithmetic of the network's forward passes in training (:meth:`autocast`); the
        losses, the gradients' accumulation in the weights and the final labels stay in
        float32.

    Examples
    --------
    >>> from skdynaguide.training.config import TrainingConfig
    >>> from skdynaguide.losses import FSFWeight, HuberContinuity
    >>> config = TrainingConfig(continuity=HuberContinuity(), weighting=FSFWeight(),
    ...                         max_pixels=25000)
    >>> config.stackable, config.training_shape(321, 481)
    (True, (129, 193))
    """

    continuity: object
    weighting: object
    network: Callable = field(default_factory=CNNBuilder)
    n_features: int = 100
    n_clusters: int = 100
    matching: object = None
    guidance_weight: float = 1.0
    scribble_weight: float = 0.5
    modularity: object = None
    modularity_weight: float = 0.0
    silhouette_range: tuple | None = None
    silhouette_samples: int = 2000
    max_iter: int = 1000
    tol: float | None = None
    n_iter_no_change: int = 10
    lr: float = 0.1
    momentum: float = 0.9
    max_pixels: int | None = None
    device: str = "cpu"
    precision: str = "float32"

    def autocast(self):
        """The context of a training forward pass at ``precision`` on ``device``."""
        from .._device import autocast

        return autocast(self.precision, self.device)

    @property
    def stackable(self):
        """Whether several images can train in the same passes (:mod:`skdynaguide.training.batched`).

        The small CNN stacks. The modularity term does not: its gradient comes out of the
        stacked layout about 1e-9 away from the per-image one, a difference the argmax
        targets amplify over the iterations, while every other term gives bitwise the
        per-image result on the CPU.
        """
        return is_stackable(self.network) and self.modularity is None

    @property
    def needs_features(self):
        """Whether training reads the features entering the network's response layer."""
        return self.modularity is not None or bool(self.silhouette_range)

    def training_shape(self, height, width):
        """(h, w) at which an ``height × width`` image trains (:func:`training_shape`)."""
        return training_shape(height, width, self.max_pixels)


@dataclass(frozen=True, eq=False, kw_only=True)
class TrainingImage:
    """One image to train on, with what belongs to it alone.

    Parameters
    ----------
    image : ndarray of shape (H, W, 3), float32 in [0, 1]
        A validated image (see :func:`skdynaguide._image.check_image`).
    seed : int
        Seeds the network's initialisation, the modularity subsamples and the silhouette
        phase.
    guide : ndarray of shape (H, W) with labels 0..K-1, or None, default=None
        The static guidance map ``P``; None trains without the guidance term.
    scribbles : ndarray of shape (H, W), or None, default=None
        DFC's user scribbles in channel space (see
        :func:`skdynaguide.training.scribbles.check_scribbles`): channel ids on scribbled pixels,
        ``UNLABELLED`` elsewhere.
    min_labels : int or None, default=None
        Stop as soon as the number of clusters ``q'`` is at most this.

    Examples
    --------
    >>> import numpy as np
    >>> from skdynaguide.training.config import TrainingImage
    >>> TrainingImage(image=np.zeros((4, 4, 3), np.float32), seed=0).uniform
    True
    """

    image: np.ndarray
    seed: int
    guide: np.ndarray | None = None
    scribbles: np.ndarray | None = None
    min_labels: int | None = None

    @functools.cached_property
    def uniform(self):
        """Whether every pixel is identical: one segment is then the only answer."""
        return bool((self.image == self.image[:1, :1]).all())

    @property
    def size(self):
        """The full size ``(H, W)``."""
        return self.image.shape[:2]


def config_from_params(params, *, coordinates, **fields):
    """The :class:`TrainingConfig` of an estimator's validated parameters.

    The parts every estimator shares (:class:`~skdynaguide.DynaGuideSegmenter`,
    :class:`~skdynaguide.InductiveSegmenter`) are resolved here, once: the loss, weighting,
    matching and network names to their objects, the device name to a torch device.

    Parameters
    ----------
    params : dict
        The estimator's ``get_params()``: ``continuity``, ``weighting``, ``alpha``,
        ``network``, ``n_blocks``, ``residual``, ``n_features``, ``n_clusters``,
        ``matching``, ``guidance_weight``, ``lr``, ``momentum``, ``max_pixels``, ``device``
        and ``precision``.
    coordinates : bool
        Whether the small CNN sees each pixel's position (already decided from ``"auto"``).
    **fields
        The other fields of :class:`TrainingConfig`, as the estimator sets them.

    Examples
    --------
    >>> from skdynaguide import InductiveSegmenter
    >>> from skdynaguide.training.config import config_from_params
    >>> config = config_from_params(InductiveSegmenter(device="cpu").get_params(),
    ...                             coordinates=False, max_iter=5)
    >>> config.guidance_weight, config.max_iter, config.device
    (1000.0, 5, 'cpu')
    """
    from .._device import check_precision, resolve_device
    from ..losses import resolve_continuity, resolve_weighting
    from .matching import resolve_matching
    from .network import resolve_network

    return TrainingConfig(
        continuity=resolve_continuity(params["continuity"]),
        weighting=resolve_weighting(params["weighting"], params["alpha"]),
        network=resolve_network(params["network"], n_blocks=params["n_blocks"],
                                residual=params["residual"], coordinates=coordinates),
        n_features=params["n_features"],
        n_clusters=params["n_clusters"],
        matching=resolve_matching(params["matching"]),
        guidance_weight=float(params["guidance_weight"]),
        lr=float(params["lr"]),
        momentum=float(params["momentum"]),
        max_pixels=params["max_pixels"],
        device=(device := resolve_device(params["device"])),
        precision=check_precision(params["precision"], device),
        **fields,
    )
