"""The DynaGuide estimator: validation, dispatch and storage around the training loop.

:class:`DynaGuideSegmenter` validates its parameters against ``_parameter_constraints``,
resolves them once into a :class:`~skdynaguide.config.TrainingConfig`, computes the
guidance maps, plans the batches and hands each to :func:`skdynaguide.training.train`, in
joblib workers when ``n_jobs`` asks for them; then it stores the results.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state

from ._image import check_images, check_scalar_int
from ._resources import check_training_memory
from ._validation import Interval, StrOptions, validate_params
from .batched import batch_plan
from .config import TrainingImage, config_from_params
from .guidance import compute_guidance, resolve_guidance
from .losses import ModularityLoss
from .presets import PRESETS
from .scoring import bsds_score
from .scribbles import check_scribbles
from .segments import output_segments
from .training import train

__all__ = ["DynaGuideSegmenter"]


class DynaGuideSegmenter(ClusterMixin, BaseEstimator):
    """Unsupervised segmentation by a small CNN trained on each image, guided by a prior.

    For every image a fresh network (:class:`~skdynaguide.network.DynaGuideNet`, or another
    chosen by ``network``) is trained from scratch on that image alone; its per-pixel argmax
    gives the clusters, which are returned as connected segments of at least ``min_size``
    pixels, their boundaries drawn from the guide's snapped onto the image's edges
    (``snap``); the network decides which guide regions merge, except across the image's
    strongest edges (``keep_edges``). The loss is

    ``L = L_sim + w(q') · L_con + g(q') · L_gp``

    with ``L_sim`` the cross-entropy of the response against its own argmax, ``L_con`` a
    spatial continuity penalty, ``L_gp`` the cross-entropy against a static guidance map from
    ``guidance``, ``q'`` the current number of clusters, ``w`` the dynamic weight of
    ``weighting`` and ``g(q') = guidance_weight / q'``. Without guidance this is DynaSeg
    (``weighting="fsf"`` or ``"scf"``) or DFC (a fixed ``weighting``); see
    :meth:`from_preset` for the published configurations.

    Parameters
    ----------
    guidance : str, GuidanceProvider or None, default="felzenszwalb"
        Source of the coarse guidance map ``P``: a registered name (``"felzenszwalb"``,
        Felzenszwalb's graph segmentation, weight-free, whose regions the position-aware
        network keeps while redrawing their boundaries; ``"kmeans"`` (colour k-means with 8
        clusters: colour classes, not regions), ``"slic"``, ``"fcm"``;
        ``"segformer"`` and ``"diffseg"``, the papers' pretrained priors, need the
        ``segformer`` / ``diffseg`` extras and their weights), a
        :class:`~skdynaguide.guidance.GuidanceProvider`, or None / ``"none"`` for no guidance.
        ``benchmarks/RESULTS.md`` compares the guides.
    continuity : str or ContinuityLoss, default="huber"
        Spatial continuity term: ``"huber"`` (δ = 1, horizontal, vertical, diagonal and
        anti-diagonal; DynaGuide), ``"l1"`` (horizontal and vertical; DFC, DynaSeg) or a
        :class:`~skdynaguide.losses.ContinuityLoss` instance for other variants.
    weighting : {"fsf", "scf"}, float or DynamicWeight, default="fsf"
        Weight ``w(q')`` of the continuity term: ``"fsf"`` is ``q'/alpha`` (DynaGuide,
        DynaSeg-FSF), ``"scf"`` is ``alpha/q'`` (DynaSeg-SCF), a number is DFC's fixed ``μ``.
    alpha : float, default=15
        The α of ``"fsf"`` and ``"scf"`` (DynaSeg uses 50 with SCF).
    network : {"cnn", "resnet18-fpn"}, NetworkBuilder or callable, default="cnn"
        The per-image network: ``"cnn"`` is the small CNN of the papers
        (:class:`~skdynaguide.network.DynaGuideNet`, shaped by ``n_blocks`` and
        ``residual``); ``"resnet18-fpn"`` is DynaSeg's ImageNet ResNet-18 + FPN with its
        default settings, and a :class:`~skdynaguide.ResNetFPN` instance sets them
        (checkpoint, ``pretrained``, ``stages``, ``freeze_backbone``, ``local_files_only``,
        ``cache_dir``); it needs transformers and the weights. Any callable
        ``network(n_features, n_clusters)`` returning a fresh :class:`torch.nn.Module` (e.g.
        a module class) is called once per image, under the image's seed; its output must be
        ``(1, n_clusters, h, w)`` for a ``(1, 3, h, w)`` input in [0, 1]. Module instances
        are refused (every image trains its own network).
    n_features : int, default=100
        Width p of the features entering the response layer: the small CNN's 3×3 blocks, the
        FPN of ``"resnet18-fpn"``; passed to a callable ``network``. 64 trains 1.7 times
        faster with the same scores under the default guide, but holds a coarse guide's
        regions less well (``benchmarks/RESULTS.md``).
    n_clusters : int, default=100
        Number q of response channels: the most segments the output can have.
    n_blocks : int, default=2
        Number of 3×3 conv blocks (the paper's "3 blocks" count the 1×1 response conv);
        ``network="cnn"`` only.
    residual : bool, default=True
        Skip connection from the first block's output to the last 3×3 block's output;
        ``network="cnn"`` only.
    coordinates : bool or "auto", default="auto"
        Give the network each pixel's relative row and column as two more input channels
        (``network="cnn"`` only). A network that sees colour only, through a 5×5 window, can
        express a guide segment only as a colour class spread over the whole image; with
        its position a pixel can stay in its own guide segment while the colours around it
        decide where that segment's boundary runs. Without a guide, position only lets
        the similarity loss split uniform regions, so ``"auto"`` turns it on exactly when
        ``guidance`` is set. False is the papers' network (``benchmarks/RESULTS.md``
        measures both).
    guidance_weight : float, default=100.0
        λ in the guidance weight ``g(q') = λ / q'``. The paper's ``1/q'`` is λ = 1, under
        which the guide barely acts within the default 100 steps; the larger default lets it
        shape the segments in that budget (``benchmarks/RESULTS.md`` compares both). The
        default suits a guide with accurate boundaries, such as Felzenszwalb's. With a
        coarse guide (SegFormer's 1/4 or DiffSeg's 1/8 grid) and the network's own
        boundaries (``snap=None``) a weaker weight, e.g. 30, let the image's colours move
        the guide's boundaries (``benchmarks/RESULTS.md``, section 6), with the default
        ``n_features``: a narrower network loosely guided lets regions leak on textured
        photographs. With ``snap`` the boundaries come from the guide snapped, and λ only
        shapes which regions merge; λ = 30 was not measured there.
    matching : {"index", "hungarian", "majority", "sorted"} or GuideMatching, default="index"
        How guide segments are expressed as channels for ``L_gp`` at each iteration; see
        :mod:`skdynaguide.matching`. ``"index"`` is the paper's formula (guide segment k is
        channel k); ``"hungarian"`` matches segments to channels one to one; ``"sorted"``
        (the authors' code) and ``"majority"`` may merge the guide's segments
        (``benchmarks/RESULTS.md`` compares them).
    scribble_weight : float, default=0.5
        Weight of DFC's scribble loss (cross-entropy on the pixels labelled by the
        ``scribbles`` passed to :meth:`fit`; the DFC paper uses 0.5). Unused without scribbles.
    modularity_weight : float, default=0.0
        Weight of DCN's modularity loss (:class:`~skdynaguide.losses.ModularityLoss`: the
        softmax responses as soft clusters of the cosine-affinity graph of the features that
        enter the response layer); 0 leaves it out.
    modularity_samples : int, default=1024
        Pixels drawn at each step for the modularity loss (its graph has this many nodes).
    silhouette : bool, default=False
        DynaSeg's silhouette score phase: at the first iteration, k-means on a pixel sample
        of the network's features for every count in ``silhouette_range`` picks the count
        with the best silhouette score (``silhouette_k_``), which then floors ``q'`` in the
        continuity weight ``w(q')`` and in the ``min_labels`` test, preventing a collapse to
        fewer clusters. On in the DynaSeg presets.
    silhouette_range : (int, int), default=(2, 10)
        Smallest and largest cluster count the silhouette phase tries (at most
        ``n_clusters``).
    silhouette_samples : int, default=2000
        Pixels sampled for the silhouette phase (its cost grows with their square).
    max_iter : int, default=100
        Maximum number of SGD steps per image (the paper runs 1000).
    min_labels : int or None, default=None
        Stop when the number of clusters ``q'`` falls to this value (DFC and DynaSeg use 3;
        DynaGuide runs a fixed number of steps, and under guidance ``q'`` rarely falls that
        low); None disables the test, except on images given scribbles, where it defaults to
        their number of scribble classes (as in DFC), and with ``silhouette``, whose count
        raises it.
    tol : float or None, default=None
        Also stop when fewer than this fraction of pixels changed cluster over each of
        ``n_iter_no_change`` consecutive steps; None disables the test.
    n_iter_no_change : int, default=10
        Window of the ``tol`` test.
    lr : float, default=0.1
        SGD learning rate.
    momentum : float, default=0.9
        SGD momentum (no weight decay).
    max_pixels : int or None, default=25000
        Train on the image shrunk to at most this many pixels; None trains at full
        resolution as the paper does, with a step cost that grows with the pixel count
        (``docs/scaling.rst``).
    final_resolution : {"full", "training"}, default="full"
        Where the clusters of an image trained shrunk come from: ``"full"`` runs the
        trained network once on the full-size image (BatchNorm with its running
        statistics, in strips of bounded memory), so that boundaries follow the image's
        own edges; ``"training"`` upsamples the training-size response bilinearly before
        the argmax. The same when the image trains at full size.
    min_size : int, float or None, default=0.0005
        Return connected segments: the clusters are split into connected components and
        every component smaller than this merges into the adjacent one of closest mean
        colour (:func:`~skdynaguide.segments.merge_small_segments`), like the ``min_size``
        of :func:`skimage.segmentation.felzenszwalb`. An int is a number of pixels, a float
        in (0, 1) a fraction of the image's area (0.0005: 78 pixels of a 321×481 photo); 0
        gives the connected components unmerged. None returns the clusters themselves (one
        label may then cover separate places, as in the papers); they are always kept in
        ``clusters_``.
    snap : int or None, default=2
        Draw the output's boundaries from the guide's, each moved onto the strongest edge
        of the image within this many pixels (a watershed of the colour gradient,
        :func:`~skdynaguide.snapping.redraw_boundaries`): the network decides which of the
        guide's regions belong together, the snapped guide where they end. The network is
        trained on a shrunk image and places boundaries less accurately than the
        watershed (``benchmarks/RESULTS.md``, section 6); 1 suits a guide drawn on a 4-px
        grid, 3 one on an 8-px grid. Without a guide the network's own boundaries are
        snapped. None or 0 returns the network's boundaries.
    keep_edges : float in (0, 1] or None, default=0.9
        With ``snap`` and a guide: two adjacent regions of the snapped guide that the
        network puts in one segment stay apart where the image has a strong edge between
        them, where the mean colour gradient along their boundary reaches this quantile of
        the image's gradient values (0.9: its strongest tenth). The network then merges
        guide regions across weak boundaries only. None lets the network merge any
        (``benchmarks/RESULTS.md``, section 6, measures both).
    device : str, default="auto"
        Torch device: ``"auto"`` (CUDA if available), ``"cpu"``, ``"cuda"``, ``"cuda:1"``,
        ``"mps"``. An unavailable accelerator gives a warning and the CPU.
    precision : {"auto", "float32", "bfloat16"}, default="auto"
        Arithmetic of the network's forward passes in training. ``"bfloat16"`` runs them
        under :func:`torch.autocast` (on the CPU, or a CUDA device of the Ampere generation
        or newer): faster where the processor computes in bfloat16 natively, slower where
        it does not. The losses, the weights and the final labels stay in float32.
        ``"auto"`` is bfloat16 on a CPU with native bfloat16 instructions (AVX-512 BF16 or
        AMX), where it trains about 1.5 times faster with the same scores on photographs,
        and float32 elsewhere, GPUs included; ``precision_`` says which ran. The labels of
        an image depend on it, as they do on the number of threads.
    random_state : int, RandomState instance or None, default=None
        Seeds the network initialisations, random guidance providers, the modularity
        subsamples and the silhouette phase. With an int, the same images give the same
        labels (on the CPU).
    verbose : int, default=0
        0 is silent; 1 shows progress bars (tqdm) over images and iterations.
    n_jobs : int or None, default=None
        Images (or batches, see ``batch_size``) segmented in parallel by joblib (-1: all
        cores); each worker gets an equal share of the torch threads. Under
        ``joblib.parallel_backend("dask")`` the work spreads over a Dask cluster (pass
        ``n_jobs=-1``); see ``docs/scaling.rst``.
    batch_size : int, default=1
        Images trained together in one pass (:mod:`skdynaguide.batched`): the networks of up
        to ``batch_size`` images of the same training size are stacked as grouped
        convolutions, each image keeping its own weights, BatchNorm statistics, loss and
        stopping rule. The results equal one-by-one training up to float rounding; it pays
        on a GPU, where one image leaves most of the device idle. 1 trains one image at a
        time. Only ``network="cnn"`` without the modularity term is batched (otherwise the
        images train one by one, with a warning); images of other training sizes go in
        other batches.

    Attributes
    ----------
    labels_ : ndarray of shape (H, W) or list of such
        Segmentation of the image passed to :meth:`fit` (consecutive labels 0..k-1), or one
        per image for a batch: connected segments of ``min_size`` whose boundaries are the
        guide's snapped onto the image's edges (``snap``), or the clusters when
        ``min_size`` and ``snap`` are None.
    n_labels_ : int or list of int
        Number of segments ``k`` per image.
    clusters_ : ndarray of shape (H, W) or list of such
        The network's clusters (the argmax of its response, labels 0..q'-1) per image,
        before the segments are made of them.
    n_iter_ : int or list of int
        SGD steps run per image.
    guidance_labels_ : ndarray of shape (H, W), None, or list of such
        The guidance map ``P`` used for each image (None without guidance).
    loss_history_ : dict or list of dict
        Per image, arrays indexed by iteration: ``"loss"`` (total), ``"similarity"``,
        ``"continuity"``, ``"guidance"``, ``"scribble"``, ``"modularity"`` (the unweighted
        terms; zero when a term is off), ``"continuity_weight"``, ``"guidance_weight"`` and
        ``"n_labels"`` (``q'``).
    silhouette_k_ : int, None, or list of such
        Per image, the cluster count chosen by the silhouette phase (None when
        ``silhouette`` is off).
    device_ : str
        The device the networks were trained on.
    precision_ : {"float32", "bfloat16"}
        The arithmetic of the training forward passes (``precision`` resolved).

    See Also
    --------
    skdynaguide.guidance.FelzenszwalbGuidance : The default guidance.
    skdynaguide.segments.merge_small_segments : How clusters become segments.
    sklearn.cluster.DBSCAN : Another transductive clusterer with ``fit_predict``.

    Notes
    -----
    The method is *transductive*: no model carries over from one image to another. ``fit``
    segments the images it is given; :meth:`predict` segments new images from scratch with
    the same parameters (and leaves the fitted attributes alone), so calling it needs no
    prior ``fit``.

    Images are ``(H, W)`` grey or ``(H, W, 3)`` RGB, ``uint8``, ``uint16`` or float in
    ``[0, 1]``; RGBA is refused (composite or drop the alpha channel first). A single image
    returns one label map; a list of images or an ``(N, H, W, C)`` array returns a list.

    With ``scribbles`` (DFC's user input), :meth:`fit` takes one integer map per image: a
    class id ``>= 0`` on scribbled pixels and ``UNLABELLED`` (−1,
    :data:`skdynaguide.scribbles.UNLABELLED`) elsewhere. Ids are arbitrary; per image they
    are mapped in increasing order onto channels ``0..K-1``. The loss gains
    ``scribble_weight · L_scr`` and ``L_sim`` is taken over the unscribbled pixels only.

    Faults have defined outcomes (``docs/reliability.rst``): an image whose pixels are all
    identical is one segment, without training (``n_iter_`` 0); a guidance map with a single
    label is not used for that image (``UserWarning``); a guide with more labels than
    ``n_clusters`` shares channels as ``matching`` defines (``"index"``: segment k → channel
    k mod q); a loss that becomes NaN/inf stops training and keeps the last finite clusters
    (``RuntimeWarning``); a result collapsed to one segment on a non-uniform image gives a
    ``RuntimeWarning``; training that would not fit in the free memory of the device
    (:mod:`skdynaguide._resources` estimate, ``max_pixels=None`` on a large photograph)
    raises :class:`MemoryError` before any work.

    References
    ----------
    .. [1] B. Guermazi, R. Ksantini, N. Khan. "DynaGuide: A generalizable dynamic guidance
       framework for zero-shot guided unsupervised semantic segmentation." Image and Vision
       Computing 164, 2025.
    .. [2] B. Guermazi, N. Khan. "DynaSeg: A deep dynamic fusion method for unsupervised image
       segmentation incorporating feature similarity and spatial continuity." 2024.
    .. [3] W. Kim, A. Kanezaki, M. Tanaka. "Unsupervised learning of image segmentation based
       on differentiable feature clustering." IEEE TIP 29, 2020.

    Examples
    --------
    >>> import numpy as np
    >>> from skdynaguide import DynaGuideSegmenter
    >>> image = np.zeros((16, 16, 3)); image[:, 8:] = 1.0
    >>> seg = DynaGuideSegmenter(n_features=16, n_clusters=8, max_iter=20, random_state=0)
    >>> labels = seg.fit_predict(image)
    >>> labels.shape
    (16, 16)
    """

    # The pluggable families (guidance, continuity, weighting, matching, network) are left
    # to their registries, which accept names registered at any time and list them when a
    # value is refused; silhouette_range and the n_jobs = 0 hint are checked by hand in
    # _validate_params.
    _parameter_constraints: dict = {
        "guidance": "no_validation",
        "continuity": "no_validation",
        "weighting": "no_validation",
        "alpha": [Interval(Real, 0, None, closed="neither")],
        "network": "no_validation",
        "n_features": [Interval(Integral, 1, None, closed="left")],
        "n_clusters": [Interval(Integral, 2, None, closed="left")],
        "n_blocks": [Interval(Integral, 1, None, closed="left")],
        "residual": ["boolean"],
        "coordinates": ["boolean", StrOptions({"auto"})],
        "guidance_weight": [Interval(Real, 0, None, closed="left")],
        "matching": "no_validation",
        "scribble_weight": [Interval(Real, 0, None, closed="left")],
        "modularity_weight": [Interval(Real, 0, None, closed="left")],
        "modularity_samples": [Interval(Integral, 2, None, closed="left")],
        "silhouette": ["boolean"],
        "silhouette_range": "no_validation",
        "silhouette_samples": [Interval(Integral, 3, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "min_labels": [Interval(Integral, 1, None, closed="left"), None],
        "tol": [Interval(Real, 0, None, closed="left"), None],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "momentum": [Interval(Real, 0, None, closed="left")],
        "max_pixels": [Interval(Integral, 4, None, closed="left"), None],
        "final_resolution": [StrOptions({"full", "training"})],
        "min_size": [Interval(Integral, 0, None, closed="left"),
                     Interval(Real, 0, 1, closed="neither"), None],
        "snap": [Interval(Integral, 0, None, closed="left"), None],
        "keep_edges": [Interval(Real, 0, 1, closed="right"), None],
        "device": [str, torch.device],
        "precision": [StrOptions({"auto", "float32", "bfloat16"})],
        "random_state": [Interval(Integral, 0, 2**32 - 1, closed="both"),
                         np.random.RandomState, None],
        "verbose": [Interval(Integral, 0, None, closed="left")],
        "n_jobs": [Interval(Integral, None, None, closed="neither"), None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
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
        coordinates="auto",
        guidance_weight=100.0,
        matching="index",
        scribble_weight=0.5,
        modularity_weight=0.0,
        modularity_samples=1024,
        silhouette=False,
        silhouette_range=(2, 10),
        silhouette_samples=2000,
        max_iter=100,
        min_labels=None,
        tol=None,
        n_iter_no_change=10,
        lr=0.1,
        momentum=0.9,
        max_pixels=25000,
        final_resolution="full",
        min_size=0.0005,
        snap=2,
        keep_edges=0.9,
        device="auto",
        precision="auto",
        random_state=None,
        verbose=0,
        n_jobs=None,
        batch_size=1,
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
        self.scribble_weight = scribble_weight
        self.modularity_weight = modularity_weight
        self.modularity_samples = modularity_samples
        self.silhouette = silhouette
        self.silhouette_range = silhouette_range
        self.silhouette_samples = silhouette_samples
        self.max_iter = max_iter
        self.min_labels = min_labels
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
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
        self.n_jobs = n_jobs
        self.batch_size = batch_size

    @classmethod
    def from_preset(cls, name, **params):
        """A segmenter configured as a published method, with ``params`` overriding it.

        Parameters
        ----------
        name : str
            One of :data:`skdynaguide.presets.PRESETS`: ``"dynaguide-paper"`` (the DynaGuide
            paper executed literally: full resolution, 1000 iterations, the colour-only
            network, raw clusters), ``"dynaguide-diffseg"`` and ``"dynaguide-segformer"``
            (the same with the paper's guides, which need their extras and weights),
            ``"dynaseg-fsf"``, ``"dynaseg-scf"``, ``"dfc"``.
        **params
            Any constructor parameter, e.g. ``max_pixels=25000`` for a fast variant.

        Examples
        --------
        >>> DynaGuideSegmenter.from_preset("dfc", max_iter=50).weighting
        5.0
        """
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
        return cls(**{**PRESETS[name], **params})

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False  # predict segments from scratch (transductive)
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        return tags

    # -- validation -------------------------------------------------------------------

    def _validate_params(self):
        """Check the parameters: ``_parameter_constraints``, then what they cannot express."""
        validate_params(self._parameter_constraints, self.get_params(deep=False))
        if self.n_jobs == 0:
            raise ValueError("n_jobs must not be 0 (use None or 1 for serial, -1 for all cores)")
        self._check_silhouette()

    def _check_silhouette(self):
        """``silhouette_range`` is a pair within ``n_clusters``, below the sample size."""
        k_range = self.silhouette_range
        if not (isinstance(k_range, (tuple, list)) and len(k_range) == 2):
            raise TypeError(f"silhouette_range must be a pair (min, max), got {k_range!r}")
        low = check_scalar_int(k_range[0], "silhouette_range[0]", min_value=2)
        high = check_scalar_int(k_range[1], "silhouette_range[1]", min_value=low)
        if not self.silhouette:
            return
        if high > self.n_clusters:
            raise ValueError(
                f"silhouette_range={tuple(k_range)} reaches beyond n_clusters={self.n_clusters}, "
                "the most clusters the network can express"
            )
        if self.silhouette_samples <= high:
            raise ValueError(
                f"silhouette_samples={self.silhouette_samples} must exceed the largest count of "
                f"silhouette_range, {high}"
            )

    def _resolve(self):
        """The validated parameters resolved: ``(config, provider)``.

        ``config`` is the one :class:`~skdynaguide.config.TrainingConfig` every image is
        trained with; ``provider`` computes the guidance maps (None without guidance).
        """
        self._validate_params()
        provider = resolve_guidance(self.guidance)
        coordinates = (provider is not None if isinstance(self.coordinates, str)
                       else self.coordinates)
        config = config_from_params(
            self.get_params(deep=False),
            coordinates=coordinates,
            scribble_weight=float(self.scribble_weight),
            modularity=(ModularityLoss(self.modularity_samples)
                        if self.modularity_weight > 0 else None),
            modularity_weight=float(self.modularity_weight),
            silhouette_range=tuple(self.silhouette_range) if self.silhouette else None,
            silhouette_samples=self.silhouette_samples,
            max_iter=self.max_iter,
            tol=self.tol,
            n_iter_no_change=self.n_iter_no_change,
            final_resolution=self.final_resolution,
        )
        return config, provider

    # -- the work -----------------------------------------------------------------------

    def _segment(self, X, scribbles=None):
        """Segment every image of ``X``: ``(results, segments, guides, is_batch, config)``.

        ``results`` hold the network's clusters; ``segments`` are the label maps returned
        (:func:`~skdynaguide.segments.output_segments` of the clusters).
        """
        config, provider = self._resolve()
        if _is_empty(X):  # a transductive CV split trains on no images: nothing to do
            if scribbles is not None and len(scribbles) > 0:
                raise ValueError(f"scribbles has {len(scribbles)} entries for 0 images")
            return [], [], [], True, config
        images, is_batch = check_images(X)
        scribble_maps, n_classes = check_scribbles(
            scribbles, [im.shape[:2] for im in images], is_batch, self.n_clusters)
        rng = check_random_state(self.random_state)
        seeds = rng.randint(np.iinfo(np.int32).max, size=(len(images), 2))
        items = [
            TrainingImage(image=image, seed=int(seed), scribbles=scribble_map,
                          # DFC: with scribbles, stop by default once q' is down to the
                          # scribble classes
                          min_labels=k if self.min_labels is None and k else self.min_labels)
            for image, seed, scribble_map, k in zip(images, seeds[:, 0], scribble_maps,
                                                    n_classes)
        ]

        if isinstance(self.network, str) and self.network.lower() == "cnn":
            # fail before any work rather than be killed for memory half-way through
            check_training_memory(
                [config.training_shape(*item.size) for item in items if not item.uniform],
                n_features=self.n_features, n_clusters=self.n_clusters,
                n_blocks=self.n_blocks, device=config.device,
                # a batch holds the activations of all its images at once
                n_jobs=_effective_n_jobs(self.n_jobs, len(images))
                * min(self.batch_size, len(images)), max_pixels=self.max_pixels)

        guides = [None] * len(images)
        if provider is not None:
            guides = compute_guidance(provider, images, [int(s) for s in seeds[:, 1]])
        # A one-label guide marks no boundary; with g(q') = λ/q' largest at q' = 1 it would
        # only pull every pixel into one cluster, so such images train without guidance.
        single = [i for i, (guide, item) in enumerate(zip(guides, items))
                  if guide is not None and not item.uniform and guide.max() == 0]
        if single:
            warnings.warn(
                f"The guidance map of image(s) {single} has a single label; they were trained "
                "without the guidance term (it would only merge every pixel into one segment)",
                UserWarning,
                stacklevel=3,
            )
        items = [item if i in single else dataclasses.replace(item, guide=guide)
                 for i, (item, guide) in enumerate(zip(items, guides))]

        batches = self._batches(items, config)
        n_jobs = _effective_n_jobs(self.n_jobs, len(batches))
        parent = os.getpid()
        jobs = [delayed(_train_batch)([items[i] for i in batch], config, self.verbose, n_jobs,
                                      batch, parent)
                for batch in batches]
        if n_jobs == 1:
            outputs = [job[0](*job[1], **job[2]) for job in _progress(jobs, self.verbose)]
        else:
            # in-process workers (threading, Dask with processes=False) share this process's
            # torch threads: give them their share here, once, rather than race in each task
            with _torch_threads(max(1, (os.cpu_count() or 1) // n_jobs)):
                outputs = Parallel(n_jobs=n_jobs)(_progress(jobs, self.verbose))
        results = [None] * len(images)
        for batch, output in zip(batches, outputs):
            for i, result in zip(batch, output):
                results[i] = result
        self._warn_unconverged(results)
        segments = [output_segments(item.image, r.labels, item.guide,
                                    min_size=self.min_size, snap=self.snap,
                                    keep_edges=self.keep_edges)
                    for item, r in zip(items, results)]
        return results, segments, guides, is_batch, config

    def _batches(self, items, config):
        """Image indices grouped into the batches trained together (singletons: one by one)."""
        if self.batch_size == 1 or len(items) == 1:
            return [[i] for i in range(len(items))]
        if not config.stackable:
            warnings.warn(
                f"batch_size={self.batch_size} is ignored: only network='cnn' without the "
                "modularity term trains in batches; the images train one by one",
                UserWarning,
                stacklevel=4,
            )
            return [[i] for i in range(len(items))]
        return batch_plan([item.size for item in items], self.batch_size, config.max_pixels)

    def _warn_unconverged(self, results):
        # images under a fixed iteration budget have nothing to converge to
        late = [r for r in results if r.stop_reason == "max_iter"
                and (r.min_labels is not None or self.tol is not None)]
        if late:
            which = "the image" if len(results) == 1 else f"{len(late)} of {len(results)} images"
            floors = sorted({r.min_labels for r in late if r.min_labels is not None})
            warnings.warn(
                f"Training of {which} stopped at max_iter={self.max_iter} before reaching "
                f"min_labels={floors[0] if len(floors) == 1 else floors or None} or "
                f"tol={self.tol}; the result is usable, raise max_iter to train longer",
                ConvergenceWarning,
                stacklevel=3,
            )
        collapsed = [i for i, r in enumerate(results)
                     if r.stop_reason != "uniform" and r.labels.max() == 0]
        if collapsed:
            warnings.warn(
                f"The segmentation of image(s) {collapsed} collapsed to a single segment "
                "although their pixels differ; set min_labels (e.g. 2) to stop before the "
                "collapse, give guidance, or lower the continuity weight",
                RuntimeWarning,
                stacklevel=3,
            )
        bad = [i for i, r in enumerate(results) if r.stop_reason == "nonfinite"]
        if bad:
            warnings.warn(
                f"The loss became NaN or infinite for image(s) {bad}; training stopped early "
                "(try a smaller lr)",
                RuntimeWarning,
                stacklevel=3,
            )

    def fit(self, X, y=None, scribbles=None):
        """Segment the image(s) ``X`` and store the results.

        Parameters
        ----------
        X : array-like of shape (H, W) or (H, W, 3), (N, H, W, C) array, or list of images
            One image, or several (of any sizes). An empty list only validates the
            parameters (the "training set" of :class:`~skdynaguide.model_selection.TransductiveSplit`).
        y : None
            Ignored; present for API consistency.
        scribbles : array-like of shape (H, W), list of such, or None, default=None
            DFC's user scribbles: for one image an integer map of its size, with class ids
            ``>= 0`` on scribbled pixels and ``UNLABELLED`` (−1) elsewhere; for several
            images a list with one map (or None) per image, or an ``(N, H, W)`` array.
            Never modified.

        Returns
        -------
        self : DynaGuideSegmenter
            The fitted segmenter.

        Examples
        --------
        Scribbles join the two left quadrants, which have different colours:

        >>> import numpy as np
        >>> from skdynaguide.scribbles import UNLABELLED
        >>> image = np.zeros((16, 16, 3)); image[:8, :8, 0] = 1; image[8:, :8, 1] = 1
        >>> scribbles = np.full((16, 16), UNLABELLED); scribbles[2:14, 3] = 5
        >>> scribbles[2:14, 12] = 9
        >>> seg = DynaGuideSegmenter(guidance=None, n_features=16, n_clusters=8,
        ...                          max_iter=100, tol=1e-3, random_state=0)
        >>> labels = seg.fit(image, scribbles=scribbles).labels_
        >>> bool(labels[4, 3] == labels[12, 3] != labels[4, 12])
        True
        """
        results, segments, guides, is_batch, config = self._segment(X, scribbles)
        pick = (lambda values: values) if is_batch else (lambda values: values[0])
        self.labels_ = pick(segments)
        self.n_labels_ = pick([int(labels.max()) + 1 for labels in segments])
        self.clusters_ = pick([r.labels for r in results])
        self.n_iter_ = pick([r.n_iter for r in results])
        self.guidance_labels_ = pick(guides)
        self.loss_history_ = pick([r.history for r in results])
        self.silhouette_k_ = pick([r.silhouette_k for r in results])
        self.device_ = config.device
        self.precision_ = config.precision
        return self

    def fit_predict(self, X, y=None, scribbles=None):
        """Segment ``X`` and return the label map(s) (also stored in ``labels_``).

        Parameters
        ----------
        X : array-like or list of array-like
            One image or several; see :meth:`fit`.
        y : None
            Ignored.
        scribbles : array-like, list or None, default=None
            DFC's user scribbles, one map per image; see :meth:`fit`.

        Returns
        -------
        labels : ndarray of shape (H, W), or list of such for several images
        """
        return self.fit(X, scribbles=scribbles).labels_

    def predict(self, X):
        """Segment new image(s) from scratch with the same parameters.

        DynaGuide is transductive: no model carries over between images, so this trains a
        fresh network per image exactly as :meth:`fit` does (same ``random_state``, same
        result) but leaves the fitted attributes untouched. It needs no prior ``fit``.

        Parameters
        ----------
        X : array-like or list of array-like
            One image or several; see :meth:`fit`.

        Returns
        -------
        labels : ndarray of shape (H, W), or list of such for several images
        """
        _, labels, _, is_batch, _ = self._segment(X)
        return labels if is_batch else labels[0]

    def score(self, X, y):
        """Best-overlap segment mIoU of the segmentation of ``X`` against ``y`` .

        Every ground-truth segment takes its best IoU over the predicted segments; the score
        is the mean over the ground-truth segments of all images and all annotations (the
        BSD500 "All" figure, scorer ``"bsds_all"`` of :mod:`skdynaguide.scoring`, which
        also offers Fine / Coarse / Mean, connected components and Hungarian mIoU).

        Parameters
        ----------
        X : array-like or list of array-like
            Image(s) to segment (with :meth:`predict`).
        y : array-like of shape (H, W), or list with one entry per image
            Ground truth per image: one label map, or a list / ``(n, H, W)`` array of
            several annotations.

        Returns
        -------
        score : float in [0, 1]
        """
        predictions = self.predict(X)
        if not isinstance(predictions, list):
            predictions, y = [predictions], [y]
        return bsds_score(y, predictions, which="all")


def _is_empty(X):
    return (isinstance(X, (list, tuple)) and len(X) == 0) or (
        isinstance(X, np.ndarray) and X.ndim == 4 and X.shape[0] == 0)


def _effective_n_jobs(n_jobs, n_images):
    if n_jobs is None or n_images == 1:
        return 1
    cores = os.cpu_count() or 1
    n_jobs = cores + 1 + n_jobs if n_jobs < 0 else n_jobs
    return max(1, min(n_jobs, n_images))


def _progress(iterable, verbose):
    if verbose < 1:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc="images", unit="image", disable=len(iterable) < 2)


@contextlib.contextmanager
def _torch_threads(n_threads):
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
        return _torch_threads(max(1, (os.cpu_count() or 1) // n_jobs))
    return contextlib.nullcontext()


def _train_batch(items, config, verbose, n_jobs, indices, parent=None):
    """Train the images of one batch (in this process or a joblib worker), with a progress
    bar at ``verbose >= 1`` and the worker's share of threads."""
    bar = progress = None
    if verbose >= 1:
        from tqdm.auto import tqdm

        which = f"image {indices[0]}" if len(indices) == 1 else f"images {indices}"
        bar = tqdm(total=config.max_iter, desc=which, unit="it", leave=False)

        def progress(iteration, n_labels):
            bar.update(1)
            bar.set_postfix(q=max(n_labels, default=0), refresh=False)

    try:
        with _worker_threads(n_jobs, parent):
            return train(items, config, progress=progress)
    finally:
        if bar is not None:
            bar.close()
