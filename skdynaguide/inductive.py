"""The inductive mode: one network trained over a collection, new images by a forward pass.

:class:`InductiveSegmenter` reads like :class:`sklearn.cluster.KMeans`:
:meth:`~InductiveSegmenter.fit` trains one network on a collection of images
(:class:`~skdynaguide.collection.SharedTraining`), :meth:`~InductiveSegmenter.predict`
segments new images with its forward pass alone, and :meth:`~InductiveSegmenter.partial_fit`
goes on training it (more images, the next frames of a video). Class k is channel k of the
network, the same in every image.
"""
from __future__ import annotations

import copy
import warnings
from numbers import Integral

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ._device import resolve_device
from ._image import check_images
from ._validation import Interval, validate_params
from .collection import SharedTraining
from .config import TrainingImage, config_from_params, training_shape
from .guidance import compute_guidance, resolve_guidance
from .scoring import bsds_score
from .segmenter import DynaGuideSegmenter
from .segments import merge_small_pieces
from .training import final_labels, full_size_labels, network_input

__all__ = ["InductiveSegmenter"]

_SHARED = ("guidance", "continuity", "weighting", "alpha", "network", "n_features",
           "n_clusters", "n_blocks", "residual", "guidance_weight", "matching", "max_iter",
           "lr", "momentum", "max_pixels", "final_resolution", "min_size", "device",
           "precision", "random_state", "verbose", "batch_size")


class InductiveSegmenter(ClusterMixin, BaseEstimator):
    """One network trained over a collection of images; new images by a forward pass.

    :meth:`fit` trains a single network (the per-image mode's network, by default
    :class:`~skdynaguide.network.DynaGuideNet`) on all the images it is given:
    each SGD step draws ``batch_size`` random crops from the collection, every image with
    its own guidance map, and minimises the mean over the crops of the per-image loss
    ``L_sim + w(q')·L_con + g(q')·L_gp``. :meth:`predict` then segments any image by one
    forward pass (BatchNorm with its running statistics), with no training: a fraction of
    a second where :class:`~skdynaguide.DynaGuideSegmenter` trains for seconds. Label k is the
    network's channel k, so one class means the same thing in every image, and
    :meth:`partial_fit` goes on training the network on new images (the next frames of a
    video: a few steps each keep the labels stable over time).

    Parameters
    ----------
    guidance : str, GuidanceProvider or None, default="felzenszwalb"
        Source of each image's guidance map, as in
        :class:`~skdynaguide.DynaGuideSegmenter`; used in training only.
    continuity : str or ContinuityLoss, default="huber"
        Spatial continuity term (see :class:`~skdynaguide.DynaGuideSegmenter`).
    weighting : {"fsf", "scf"}, float or DynamicWeight, default="fsf"
        Weight ``w(q')`` of the continuity term, ``q'`` counted per crop.
    alpha : float, default=15
        The α of ``"fsf"`` and ``"scf"``.
    network : {"cnn", "resnet18-fpn"}, NetworkBuilder or callable, default="cnn"
        The network trained (see :class:`~skdynaguide.DynaGuideSegmenter`); built once.
    n_features : int, default=100
        Width p of the features entering the response layer. 32 trains 2.5 times and
        predicts 2.2 times faster at the same region score and a lower boundary F
        (``benchmarks/RESULTS.md``).
    n_clusters : int, default=100
        Number q of response channels: the most classes the model can have.
    n_blocks : int, default=2
        Number of 3×3 conv blocks of ``network="cnn"``.
    residual : bool, default=True
        Skip connection of ``network="cnn"``.
    coordinates : bool, default=False
        Give ``network="cnn"`` each pixel's relative position. Off by default: in a network
        shared by many images, position would tie classes to places in the frame rather
        than to what is there.
    guidance_weight : float, default=1000.0
        λ in the guidance weight ``g(q') = λ / q'``. Ten times the per-image default: the
        shared network holds the guide's regions apart only through their colours, and a
        weaker guide lets it settle on a few colour classes (``benchmarks/RESULTS.md``).
    matching : {"hungarian", "majority", "index", "sorted"} or GuideMatching, default="hungarian"
        How each crop's guide segments are expressed as channels (:mod:`skdynaguide.matching`).
        ``"hungarian"`` gives the guide segments of a crop distinct channels, each the one
        the shared network already gives most of it: the guide holds regions apart without
        fixing which channel they take. ``"index"`` (the per-image default) would send
        segment k of every image to channel k, although the k-th segments of two images
        have nothing in common; ``"majority"`` lets segments share a channel, and the
        shared network then collapses to a few classes (``benchmarks/RESULTS.md``).
    max_iter : int, default=500
        SGD steps of :meth:`fit`.
    partial_iter : int, default=10
        SGD steps of each :meth:`partial_fit` call.
    batch_size : int, default=4
        Crops per SGD step.
    crop_size : int or None, default=96
        Side of the square training crops, cut from the images at their training size
        (``max_pixels``); None trains on whole images (those of one step shrunk to a common
        size).
    lr : float, default=0.1
        SGD learning rate.
    momentum : float, default=0.9
        SGD momentum, carried over from one :meth:`partial_fit` call to the next.
    max_pixels : int or None, default=25000
        Images train shrunk to at most this many pixels (crops are cut from them);
        :meth:`predict` always runs on the full-size image.
    final_resolution : {"full", "training"}, default="full"
        Where :meth:`predict` runs the network: ``"full"`` on the full-size image (the
        labels follow the image's own edges), ``"training"`` on the image shrunk to
        ``max_pixels``, its response upsampled bilinearly before the argmax (about as many
        times faster as the image has more pixels than ``max_pixels``).
    min_size : int, float or None, default=0.001
        Connected pieces of a class smaller than this (pixels, or a fraction of the image
        area) take the class of the neighbour of closest colour
        (:func:`~skdynaguide.segments.merge_small_pieces`); None returns the network's
        argmax as it is.
    device : str, default="auto"
        Torch device for training and prediction (``"auto"``: CUDA if available). The
        fitted network is stored on the CPU, so a model trained on a GPU pickles and loads
        on a machine without one.
    precision : {"float32", "bfloat16", "auto"}, default="float32"
        Arithmetic of the network's forward passes in training. ``"bfloat16"`` runs them
        under :func:`torch.autocast` (on the CPU, or a CUDA device of the Ampere generation
        or newer): faster where the processor computes in bfloat16 natively, slower where
        it does not. The losses, the weights and predictions stay in float32. ``"auto"``
        is bfloat16 on a CPU with native bfloat16 instructions, float32 elsewhere.
    random_state : int, RandomState instance or None, default=None
        Seeds the network's initialisation, random guidance providers and the crops.
    verbose : int, default=0
        1 shows a progress bar over the SGD steps.

    Attributes
    ----------
    network_ : torch.nn.Module
        The trained network, on the CPU, in evaluation mode.
    labels_ : ndarray of shape (H, W) or list of such
        The classes of the images passed to the last :meth:`fit` or :meth:`partial_fit`,
        as :meth:`predict` gives them.
    n_labels_ : int or list of int
        Number of distinct classes per image.
    guidance_labels_ : ndarray of shape (H, W), None, or list of such
        The guidance map of each of those images.
    n_iter_ : int
        SGD steps taken since the last :meth:`fit` (all calls of :meth:`partial_fit`
        included).
    loss_history_ : dict
        Per step, the mean over the crops of each loss term (the keys of
        :attr:`DynaGuideSegmenter.loss_history_ <skdynaguide.DynaGuideSegmenter>`).
    device_ : str
        The device the network was trained on.
    precision_ : {"float32", "bfloat16"}
        The arithmetic of the training forward passes (``precision`` resolved).

    See Also
    --------
    DynaGuideSegmenter : A fresh network trained on every image (transductive).
    sklearn.cluster.KMeans : The same ``fit`` / ``predict`` reading.

    Notes
    -----
    ``benchmarks/RESULTS.md`` compares its predictions on held-out images with per-image
    training, in quality and time, and measures the stability of video labels under
    :meth:`partial_fit` (``benchmarks/bench_inductive.py``).

    Examples
    --------
    >>> import numpy as np
    >>> from skdynaguide import InductiveSegmenter
    >>> rng = np.random.default_rng(0)
    >>> def scene(split):
    ...     image = np.zeros((24, 24, 3)); image[:, :split] = (0.9, 0.2, 0.1)
    ...     image[:, split:] = (0.1, 0.3, 0.9)
    ...     return np.clip(image + rng.normal(0, 0.03, image.shape), 0, 1)
    >>> model = InductiveSegmenter(n_features=16, n_clusters=8, max_iter=40, crop_size=16,
    ...                            random_state=0).fit([scene(8), scene(16)])
    >>> labels = model.predict(scene(12))
    >>> bool(labels[0, 0] != labels[0, -1]), bool(labels[0, 0] == model.labels_[0][0, 0])
    (True, True)
    """

    _parameter_constraints: dict = {
        **{name: DynaGuideSegmenter._parameter_constraints[name] for name in _SHARED},
        "coordinates": ["boolean"],
        "partial_iter": [Interval(Integral, 1, None, closed="left")],
        "crop_size": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(
        self,
        *,
        guidance="felzenszwalb",
        continuity="huber",
        weighting="fsf",
        alpha=15.0,
        network="cnn",
        n_features=100,
        n_clusters=100,
        n_blocks=2,
        residual=True,
        coordinates=False,
        guidance_weight=1000.0,
        matching="hungarian",
        max_iter=500,
        partial_iter=10,
        batch_size=4,
        crop_size=96,
        lr=0.1,
        momentum=0.9,
        max_pixels=25000,
        final_resolution="full",
        min_size=0.001,
        device="auto",
        precision="float32",
        random_state=None,
        verbose=0,
    ):
        self.guidance = guidance
        self.continuity = continuity
        self.weighting = weighting
        self.alpha = alpha
        self.network = network
        self.n_features = n_features
        self.n_clusters = n_clusters
        self.n_blocks = n_blocks
        self.residual = residual
        self.coordinates = coordinates
        self.guidance_weight = guidance_weight
        self.matching = matching
        self.max_iter = max_iter
        self.partial_iter = partial_iter
        self.batch_size = batch_size
        self.crop_size = crop_size
        self.lr = lr
        self.momentum = momentum
        self.max_pixels = max_pixels
        self.final_resolution = final_resolution
        self.min_size = min_size
        self.device = device
        self.precision = precision
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        return tags

    def _resolve(self):
        """The validated parameters resolved: ``(config, provider)``."""
        validate_params(self._parameter_constraints, self.get_params(deep=False))
        provider = resolve_guidance(self.guidance)
        config = config_from_params(self.get_params(deep=False),
                                    coordinates=self.coordinates)
        return config, provider

    # -- training ---------------------------------------------------------------------

    def fit(self, X, y=None):
        """Train a fresh network on the image(s) ``X`` for ``max_iter`` steps.

        Parameters
        ----------
        X : array-like of shape (H, W) or (H, W, 3), (N, H, W, C) array, or list of images
            The training collection (images of any sizes).
        y : None
            Ignored; present for API consistency.

        Returns
        -------
        self : InductiveSegmenter
        """
        config, provider = self._resolve()
        self._random = check_random_state(self.random_state)
        seed = int(self._random.randint(np.iinfo(np.int32).max))
        return self._train(X, SharedTraining(config, seed), self.max_iter, provider)

    def partial_fit(self, X, y=None):
        """Go on training the network on the image(s) ``X`` for ``partial_iter`` steps.

        The first call on an unfitted model starts a fresh network (as :meth:`fit` does,
        but for ``partial_iter`` steps); later calls continue from the current weights and
        optimizer momentum. For a video, ``fit`` the first frame, then ``partial_fit`` and
        :meth:`predict` each next one: the labels follow the scene while keeping their
        meaning from frame to frame.

        Parameters
        ----------
        X : array-like or list of array-like
            One image or several; see :meth:`fit`.
        y : None
            Ignored.

        Returns
        -------
        self : InductiveSegmenter
        """
        config, provider = self._resolve()
        if not hasattr(self, "network_"):
            self._random = check_random_state(self.random_state)
            seed = int(self._random.randint(np.iinfo(np.int32).max))
            return self._train(X, SharedTraining(config, seed), self.partial_iter, provider)
        training = SharedTraining(config, 0)
        current = self.network_.state_dict()
        fresh = training.net.state_dict()
        if ({k: tuple(v.shape) for k, v in current.items()}
                != {k: tuple(v.shape) for k, v in fresh.items()}):
            raise ValueError(
                "the network's shape parameters (network, n_features, n_clusters, n_blocks, "
                "coordinates) changed since it was trained; call fit to start a new network"
            )
        training.net.load_state_dict(current)
        training.optimizer.load_state_dict(_to_device(self._optimizer_state, config.device))
        for group in training.optimizer.param_groups:  # the current lr and momentum, not
            group.update(lr=config.lr, momentum=config.momentum)  # those saved with the state
        training.n_iter = self.n_iter_
        training.history = {key: list(values) for key, values in self.loss_history_.items()}
        return self._train(X, training, self.partial_iter, provider)

    def _train(self, X, training, n_steps, provider):
        images, is_batch = check_images(X)
        guides = [None] * len(images)
        if provider is not None:
            seeds = self._random.randint(np.iinfo(np.int32).max, size=len(images))
            guides = compute_guidance(provider, images, [int(s) for s in seeds])
        items = [TrainingImage(image=image, seed=0, guide=_usable(guide, i))
                 for i, (image, guide) in enumerate(zip(images, guides))]
        bar = progress = None
        if self.verbose >= 1:
            from tqdm.auto import tqdm

            bar = tqdm(total=n_steps, desc="training", unit="step", leave=False)

            def progress(step, loss):
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.3g}", refresh=False)

        try:
            finite = training.run(items, n_steps, batch_size=self.batch_size,
                                  crop_size=self.crop_size, rng=self._random, progress=progress)
        finally:
            if bar is not None:
                bar.close()
        network = training.net.to("cpu").eval()
        segments = self._predict(network, images, training.config.device)
        if not finite:
            warnings.warn(
                f"The loss became NaN or infinite at step {training.n_iter + 1}; training "
                "stopped there and the network keeps the weights of the step before (try a "
                "smaller lr)",
                RuntimeWarning,
                stacklevel=3,
            )
        self.network_ = network
        self._optimizer_state = _to_device(training.optimizer.state_dict(), "cpu")
        self.n_iter_ = training.n_iter
        self.loss_history_ = {key: np.asarray(values, dtype=np.float64)
                              for key, values in training.history.items()}
        self.device_ = training.config.device
        self.precision_ = training.config.precision
        pick = (lambda values: values) if is_batch else (lambda values: values[0])
        self.labels_ = pick(segments)
        self.n_labels_ = pick([len(np.unique(labels)) for labels in segments])
        self.guidance_labels_ = pick(guides)
        return self

    # -- prediction ---------------------------------------------------------------------

    def _predict(self, network, images, device):
        """The classes ``network`` gives each image, small pieces merged (``min_size``)."""
        net = copy.deepcopy(network).to(device)
        out = []
        for i, image in enumerate(images):
            if self.final_resolution == "full":
                labels = full_size_labels(net, image)
            else:
                labels = _network_labels(net, image, self.max_pixels)
            if labels is None:
                raise RuntimeError(
                    f"the network's response to image {i} is not finite (its weights "
                    "diverged, e.g. under a too large lr); train again with a smaller lr"
                )
            if self.min_size is not None:
                labels = merge_small_pieces(image, labels, self.min_size)
            out.append(labels)
        return out

    def predict(self, X):
        """Segment image(s) with the trained network: a forward pass, no training.

        Parameters
        ----------
        X : array-like or list of array-like
            One image or several, of any sizes; see :meth:`fit`.

        Returns
        -------
        labels : ndarray of shape (H, W), or list of such for several images
            Class ids (channels of the network, in ``0..n_clusters-1``), the same class
            meaning the same thing in every image.
        """
        check_is_fitted(self, "network_")
        validate_params(self._parameter_constraints, self.get_params(deep=False))
        images, is_batch = check_images(X)
        labels = self._predict(self.network_, images, resolve_device(self.device))
        return labels if is_batch else labels[0]

    def fit_predict(self, X, y=None):
        """Train on ``X`` and return its classes (also stored in ``labels_``).

        Parameters
        ----------
        X : array-like or list of array-like
            One image or several; see :meth:`fit`.
        y : None
            Ignored.

        Returns
        -------
        labels : ndarray of shape (H, W), or list of such for several images
        """
        return self.fit(X).labels_

    def score(self, X, y):
        """Best-overlap segment mIoU of :meth:`predict` on ``X`` against ``y``.

        The BSD500 "All" figure of :meth:`DynaGuideSegmenter.score
        <skdynaguide.DynaGuideSegmenter.score>`.

        Parameters
        ----------
        X : array-like or list of array-like
            Image(s) to segment.
        y : array-like of shape (H, W), or list with one entry per image
            Ground truth per image: one label map, or several annotations.

        Returns
        -------
        score : float in [0, 1]
        """
        predictions = self.predict(X)
        if not isinstance(predictions, list):
            predictions, y = [predictions], [y]
        return bsds_score(y, predictions, which="all")


def _network_labels(net, image, max_pixels):
    """The argmax of ``net`` (in evaluation mode) on ``image`` shrunk to ``max_pixels``,
    its response upsampled bilinearly to the full size; None if it is not finite."""
    shape = training_shape(*image.shape[:2], max_pixels)
    device = next(net.parameters()).device
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad():
            response = net(network_input(image, shape, device))
    finally:
        net.train(was_training)
    labels, reason = final_labels(response, "max_iter", None, image.shape[:2])
    return None if reason == "nonfinite" else labels


def _usable(guide, index):
    """The guide, or None (with a warning) when it has one label and marks no boundary."""
    if guide is not None and guide.max() == 0:
        warnings.warn(
            f"The guidance map of image {index} has a single label; that image trains "
            "without the guidance term",
            UserWarning,
            stacklevel=4,
        )
        return None
    return guide


def _to_device(state, device):
    """An optimizer ``state_dict`` with its tensors moved to ``device``."""
    return {
        "state": {k: {name: value.to(device) if torch.is_tensor(value) else value
                      for name, value in entry.items()}
                  for k, entry in state["state"].items()},
        "param_groups": state["param_groups"],
    }
