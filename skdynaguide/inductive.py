"""The inductive mode: one network trained over a collection, new images by a forward pass.

:class:`InductiveSegmenter` reads like :class:`sklearn.cluster.KMeans`:
:meth:`~InductiveSegmenter.fit` trains one network on a collection of images
(:class:`~skdynaguide.training.collection.SharedTraining`), :meth:`~InductiveSegmenter.predict`
segments new images with its forward pass alone, and :meth:`~InductiveSegmenter.partial_fit`
goes on training it (more images, the next frames of a video). Class k is channel k of the
network, the same in every image.
"""
from __future__ import annotations

import copy
import warnings

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ._device import resolve_device
from ._estimator import SaveMixin, SegmenterMixin, progress_bar, usable_guides
from ._image import check_images
from ._parameters import constraints
from ._validation import validate_params
from .guidance import compute_guidance, resolve_guidance
from .output import OutputContext, output_steps, run_steps
from .training.collection import SharedTraining
from .training.config import TrainingImage, config_from_params

__all__ = ["InductiveSegmenter"]

class InductiveSegmenter(SaveMixin, SegmenterMixin, ClusterMixin, BaseEstimator):
    """One network trained over a collection of images; new images by a forward pass.

    :meth:`fit` trains a single network (by default the per-image mode's
    :class:`~skdynaguide.training.network.DynaGuideNet`) on all the images it is given:
    each SGD step draws ``batch_size`` random crops from the collection, every image with
    its own guidance map, and minimises the mean over the crops of the per-image loss
    ``L_sim + w(q')·L_con + g(q')·L_gp``. :meth:`predict` then segments any image with no
    training: one forward pass gives the network's classes, which go through the same
    output steps as :class:`~skdynaguide.DynaGuideSegmenter`'s clusters (connected segments
    of ``min_size``, the image's guide's boundaries snapped onto its edges, strong edges
    kept). Class k is the network's channel k, the same in every image:
    :meth:`predict_classes` and ``classes_`` give the classes themselves, and
    :meth:`partial_fit` goes on training the network on new images (the next frames of a
    video, whose classes then keep their ids).

    Parameters
    ----------
    guidance : str, GuidanceProvider or None, default="felzenszwalb"
        Source of each image's guidance map, as in :class:`~skdynaguide.DynaGuideSegmenter`:
        in training, and in :meth:`predict` for the boundaries of the segments.
    continuity : str or ContinuityLoss, default="huber"
        Spatial continuity term (see :class:`~skdynaguide.DynaGuideSegmenter`).
    weighting : {"fsf", "scf"}, float or DynamicWeight, default="fsf"
        Weight ``w(q')`` of the continuity term, ``q'`` counted per crop.
    alpha : float, default=15
        The α of ``"fsf"`` and ``"scf"``.
    network : {"cnn", "resnet18-fpn"}, NetworkBuilder or callable, default="cnn"
        The network trained (see :class:`~skdynaguide.DynaGuideSegmenter`); built once.
    n_features : int, default=100
        Width p of the features entering the response layer; smaller trains and predicts
        faster, with less accurate boundaries.
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
        λ in the guidance weight ``g(q') = λ / q'``. Higher than the per-image default: the
        shared network holds the guide's regions apart only through their colours; lower it
        and the classes become a few colour classes.
    matching : {"hungarian", "majority", "index", "sorted"} or GuideMatching, default="hungarian"
        How each crop's guide segments are expressed as channels
        (:mod:`skdynaguide.training.matching`). ``"hungarian"`` gives the guide segments of a
        crop distinct channels, each the one the network already gives most of it;
        ``"index"`` would tie segment k of every image to channel k, and ``"majority"`` lets
        segments share a channel, which collapses a shared network to a few classes.
    max_iter : int, default=500
        SGD steps of :meth:`fit`.
    partial_iter : int, default=10
        SGD steps of each :meth:`partial_fit` call.
    batch_size : int, default=4
        Crops per SGD step.
    crop_size : int or None, default=96
        Side of the square training crops, cut from the images at their training size;
        None trains on whole images (those of one step shrunk to a common size).
    lr : float, default=0.1
        SGD learning rate.
    momentum : float, default=0.9
        SGD momentum, carried over from one :meth:`partial_fit` call to the next.
    max_pixels : int or None, default=25000
        Images train shrunk to at most this many pixels (crops are cut from them).
    final_resolution : {"full", "training"}, default="full"
        Where the network runs on an image to label it: on the full-size image, or on the
        image shrunk to ``max_pixels`` with its response upsampled (faster on large images,
        blurrier boundaries).
    min_size : int, float or None, default=0.001
        Smallest piece, in pixels or as a fraction of the image area: smaller connected
        pieces join a neighbour, in the segments and in the classes (which keep their ids,
        :func:`~skdynaguide.output.segments.merge_small_pieces`). None keeps the argmax
        as it is.
    snap : int or None, default=2
        The segments' boundaries are the guide's, moved onto the strongest image edge within
        this many pixels; the network's classes decide which guide regions merge. None or 0
        keeps the network's boundaries. See :class:`~skdynaguide.DynaGuideSegmenter`.
    keep_edges : float in (0, 1] or None, default=0.8
        Guide boundaries on the image's strongest edges (this quantile of its gradient) stay
        even where one class covers both sides. Lower than the per-image default: a shared
        network's classes are coarser than one image's clusters and merge more guide
        regions (``benchmarks/bench_inductive.py bsds --redraw``). See
        :class:`~skdynaguide.DynaGuideSegmenter`.
    device : str, default="auto"
        Torch device for training and prediction (``"auto"``: CUDA if available). The
        fitted network is stored on the CPU, so a model trained on a GPU pickles and loads
        on a machine without one.
    precision : {"float32", "bfloat16", "auto"}, default="float32"
        Arithmetic of the network's forward passes in training. ``"bfloat16"`` runs them
        under :func:`torch.autocast`: faster where the processor computes in bfloat16
        natively, slower where it does not. The losses, the weights and predictions stay in
        float32. ``"auto"`` is bfloat16 on a CPU with native bfloat16 instructions.
    random_state : int, RandomState instance or None, default=None
        Seeds the network's initialisation, random guidance providers and the crops.
    verbose : int, default=0
        1 shows a progress bar over the SGD steps.

    Attributes
    ----------
    network_ : torch.nn.Module
        The trained network, on the CPU, in evaluation mode.
    labels_ : ndarray of shape (H, W) or list of such
        The segments of the images passed to the last :meth:`fit` or :meth:`partial_fit`,
        as :meth:`predict` gives them (connected, ``0..k-1``).
    n_labels_ : int or list of int
        Number of segments per image.
    classes_ : ndarray of shape (H, W) or list of such
        The classes of the same images, as :meth:`predict_classes` gives them.
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
    ``benchmarks/bench_inductive.py`` compares its predictions on held-out images with
    per-image training, in quality and time, and measures the stability of video classes
    under :meth:`partial_fit`. :meth:`save` and :meth:`load` keep a fitted model in a file.

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
    >>> int(model.predict(scene(12)).max())  # two connected segments, 0 and 1
    1
    >>> classes = model.predict_classes(scene(12))
    >>> bool(classes[0, 0] != classes[0, -1]), bool(classes[0, 0] == model.classes_[0][0, 0])
    (True, True)
    """

    _parameter_constraints: dict = constraints(
        "guidance", "continuity", "weighting", "alpha", "network", "n_features", "n_clusters",
        "n_blocks", "residual", "guidance_weight", "matching", "max_iter", "partial_iter",
        "batch_size", "crop_size", "lr", "momentum", "max_pixels", "final_resolution",
        "min_size", "snap", "keep_edges", "device", "precision", "random_state", "verbose",
        coordinates=["boolean"])

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
        snap=2,
        keep_edges=0.8,
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
        self.snap = snap
        self.keep_edges = keep_edges
        self.device = device
        self.precision = precision
        self.random_state = random_state
        self.verbose = verbose

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
        items = [TrainingImage(image=image, seed=0, guide=guide)
                 for image, guide in zip(images, usable_guides(guides))]
        with progress_bar(self.verbose, n_steps, "training", "step",
                          lambda step, loss: {"loss": f"{loss:.3g}"}) as progress:
            finite = training.run(items, n_steps, batch_size=self.batch_size,
                                  crop_size=self.crop_size, rng=self._random, progress=progress)
        network = training.net.to("cpu").eval()
        classes, segments = self._outputs(network, images, [item.guide for item in items],
                                          training.config.device)
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
        self.n_labels_ = pick([int(labels.max()) + 1 for labels in segments])
        self.classes_ = pick(classes)
        self.guidance_labels_ = pick(guides)
        return self

    # -- prediction ---------------------------------------------------------------------

    def _outputs(self, network, images, guides, device, *, classes=True, segments=True):
        """Each image's classes and segments, through the output pipeline.

        The network's full-size clusters (:class:`~skdynaguide.output.FinalResolution`) are
        its channels: as classes, their small pieces merge into neighbours
        (``min_size``) and the ids stay; as segments, they go through the same steps as
        :class:`~skdynaguide.DynaGuideSegmenter`'s clusters (connected segments, the
        guide's boundaries redrawn, strong edges kept).
        """
        net = copy.deepcopy(network).to(device)
        resolution, *class_steps = output_steps(
            min_size=self.min_size, final_resolution=self.final_resolution, classes=True)
        segment_steps = output_steps(min_size=self.min_size, snap=self.snap,
                                     keep_edges=self.keep_edges)
        out_classes, out_segments = [], []
        for image, guide in zip(images, guides):
            context = OutputContext(image=image, guide=guide, network=net,
                                    max_pixels=self.max_pixels)
            clusters = resolution(None, context)
            if classes:
                out_classes.append(run_steps(class_steps, clusters, context))
            if segments:
                out_segments.append(run_steps(segment_steps, clusters, context))
        return out_classes, out_segments

    def _predict_guides(self, images):
        """The guides of new images (None without guidance), seeded from ``random_state``."""
        provider = resolve_guidance(self.guidance)
        if provider is None:
            return [None] * len(images)
        rng = check_random_state(self.random_state)
        seeds = rng.randint(np.iinfo(np.int32).max, size=len(images))
        guides = compute_guidance(provider, images, [int(s) for s in seeds])
        return [None if guide.max() == 0 else guide for guide in guides]

    def predict(self, X):
        """Segment image(s) with the trained network: a forward pass, no training.

        Each image's guide is computed (``guidance``), the network's classes are made into
        connected segments whose boundaries are the guide's snapped onto the image's edges
        (``min_size``, ``snap``, ``keep_edges``), as :class:`~skdynaguide.DynaGuideSegmenter`
        makes its segments.

        Parameters
        ----------
        X : array-like or list of array-like
            One image or several, of any sizes; see :meth:`fit`.

        Returns
        -------
        labels : ndarray of shape (H, W), or list of such for several images
            Connected segments ``0..k-1`` per image. :meth:`predict_classes` gives the
            network's classes instead, whose ids mean the same in every image.
        """
        images, is_batch = self._check_predict(X)
        _, segments = self._outputs(self.network_, images, self._predict_guides(images),
                                    resolve_device(self.device), classes=False)
        return segments if is_batch else segments[0]

    def predict_classes(self, X):
        """The network's classes on image(s): class k is channel k in every image.

        Small pieces (``min_size``) join the class of a neighbour; the boundaries are the
        network's own. The classes of the images of the last :meth:`fit` or
        :meth:`partial_fit` are in ``classes_``.

        Parameters
        ----------
        X : array-like or list of array-like
            One image or several, of any sizes; see :meth:`fit`.

        Returns
        -------
        classes : ndarray of shape (H, W), or list of such for several images
            Class ids in ``0..n_clusters-1``.
        """
        images, is_batch = self._check_predict(X)
        classes, _ = self._outputs(self.network_, images, [None] * len(images),
                                   resolve_device(self.device), segments=False)
        return classes if is_batch else classes[0]

    def _check_predict(self, X):
        check_is_fitted(self, "network_")
        validate_params(self._parameter_constraints, self.get_params(deep=False))
        return check_images(X)

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

def _to_device(state, device):
    """An optimizer ``state_dict`` with its tensors moved to ``device``."""
    return {
        "state": {k: {name: value.to(device) if torch.is_tensor(value) else value
                      for name, value in entry.items()}
                  for k, entry in state["state"].items()},
        "param_groups": state["param_groups"],
    }
