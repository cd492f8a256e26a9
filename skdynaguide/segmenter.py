"""The DynaGuide estimator: validation, dispatch and storage around the training loop.

:class:`DynaGuideSegmenter` validates its parameters against ``_parameter_constraints``,
resolves them once into a :class:`~skdynaguide.training.config.TrainingConfig`, computes the
guidance maps, plans the batches and hands each to :func:`skdynaguide.training.train`, in
joblib workers when ``n_jobs`` asks for them; then it stores the results.
"""
from __future__ import annotations

import dataclasses
import os

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.utils import check_random_state

from ._estimator import HierarchyCutsMixin, SegmenterMixin, usable_guides
from ._image import check_images, is_empty
from ._jobs import (Segmented, effective_n_jobs, plan_batches, progress, torch_threads,
                    train_batch, warn_about)
from ._parameters import check_silhouette, constraints
from ._resources import check_training_memory
from ._validation import validate_params
from .family.presets import PRESETS
from .boundaries import resolve_boundaries
from .guidance import compute_guidance, resolve_guidance
from .losses import ModularityLoss
from .output import output_steps
from .training.config import TrainingImage, config_from_params
from .training.scribbles import check_scribbles

__all__ = ["DynaGuideSegmenter"]


class DynaGuideSegmenter(SegmenterMixin, HierarchyCutsMixin, ClusterMixin, BaseEstimator):
    """Unsupervised segmentation by a small CNN trained on each image, guided by a prior.

    For every image a fresh network (:class:`~skdynaguide.training.network.DynaGuideNet`, or another
    chosen by ``network``) is trained from scratch on that image alone; its per-pixel argmax
    gives the clusters. The segments returned are a cut of the image's boundary hierarchy
    (its learned boundary map's superpixels merged in order of boundary strength), whose
    boundaries between different clusters are strengthened, so that a cut keeps apart what
    the network tells apart (``output``, ``threshold``, ``network_weight``). The loss is

    ``L = L_sim + w(q') · L_con + g(q') · L_gp``

    with ``L_sim`` the cross-entropy of the response against its own argmax, ``L_con`` a
    spatial continuity penalty, ``L_gp`` the cross-entropy against a static guidance map from
    ``guidance``, ``q'`` the current number of clusters, ``w`` the dynamic weight of
    ``weighting`` and ``g(q') = guidance_weight / q'``. Without guidance this is DynaSeg
    (``weighting="fsf"`` or ``"scf"``) or DFC (a fixed ``weighting``); see
    :meth:`from_preset` for the published configurations.

    Parameters
    ----------
    guidance : str, GuidanceProvider or None, default="hierarchy"
        Source of the coarse guidance map ``P``: a registered name (``"hierarchy"``, a cut
        of the image's boundary hierarchy on the ``boundaries`` map; ``"felzenszwalb"``,
        weight-free graph segmentation; ``"kmeans"``,
        ``"slic"``, ``"fcm"``; ``"segformer"`` and ``"diffseg"``, the papers' pretrained
        priors, which need their extras and weights), a
        :class:`~skdynaguide.guidance.GuidanceProvider`, or None for none (DynaSeg, DFC).
    continuity : str or ContinuityLoss, default="huber"
        Spatial continuity term: ``"huber"`` (δ = 1, with diagonals; DynaGuide), ``"l1"``
        (horizontal and vertical; DFC, DynaSeg) or a
        :class:`~skdynaguide.losses.ContinuityLoss`.
    weighting : {"fsf", "scf"}, float or DynamicWeight, default="fsf"
        Weight ``w(q')`` of the continuity term: ``"fsf"`` is ``q'/alpha``, ``"scf"`` is
        ``alpha/q'``, a number is DFC's fixed ``μ``.
    alpha : float, default=15
        The α of ``"fsf"`` and ``"scf"``; larger weakens continuity, giving more segments.
    network : {"cnn", "resnet18-fpn"}, NetworkBuilder or callable, default="cnn"
        The per-image network: the papers' small CNN
        (:class:`~skdynaguide.training.network.DynaGuideNet`), DynaSeg's ImageNet ResNet-18 +
        FPN (needs transformers and its weights; a :class:`~skdynaguide.ResNetFPN` sets its
        options), or a callable ``network(n_features, n_clusters)`` returning a fresh
        :class:`torch.nn.Module` that maps ``(1, 3, h, w)`` to ``(1, n_clusters, h, w)``.
    n_features : int, default=100
        Width p of the features entering the response layer. Smaller trains faster and
        holds a coarse guide's regions less well.
    n_clusters : int, default=100
        Number q of response channels: the most clusters the network can form.
    n_blocks : int, default=2
        Number of 3×3 conv blocks of ``network="cnn"`` (the paper's "3 blocks" count the
        1×1 response conv).
    residual : bool, default=True
        Skip connection from the first to the last 3×3 block of ``network="cnn"``.
    coordinates : bool or "auto", default="auto"
        Give ``network="cnn"`` each pixel's relative position as two more input channels,
        so that a pixel can stay in its own guide region while colours place the region's
        boundary. ``"auto"``: exactly when there is a guide. False is the papers' network.
    guidance_weight : float, default=100.0
        λ in the guidance weight ``g(q') = λ / q'`` (the paper's ``1/q'`` is λ = 1, under
        which the guide barely acts within 100 steps). Lower it to let the image's colours
        override a coarse guide's boundaries when ``snap`` is None.
    matching : {"index", "hungarian", "majority", "sorted"} or GuideMatching, default="index"
        How guide segments are expressed as channels for ``L_gp`` at each iteration
        (:mod:`skdynaguide.training.matching`): ``"index"`` is the paper's formula,
        ``"hungarian"`` one to one, ``"sorted"`` the authors' code.
    scribble_weight : float, default=0.5
        Weight of DFC's scribble loss on the pixels labelled by ``scribbles`` (see
        :meth:`fit`).
    modularity_weight : float, default=0.0
        Weight of DCN's modularity loss (:class:`~skdynaguide.losses.ModularityLoss`);
        0 leaves it out.
    modularity_samples : int, default=1024
        Pixels drawn at each step for the modularity loss.
    silhouette : bool, default=False
        DynaSeg's silhouette phase: at the first iteration the count with the best
        silhouette score in ``silhouette_range`` (``silhouette_k_``) floors ``q'`` from then
        on, preventing a collapse to fewer clusters.
    silhouette_range : (int, int), default=(2, 10)
        Smallest and largest cluster count the silhouette phase tries.
    silhouette_samples : int, default=2000
        Pixels sampled for the silhouette phase (its cost grows with their square).
    max_iter : int, default=100
        Maximum number of SGD steps per image (the paper runs 1000).
    min_labels : int or None, default=None
        Stop when ``q'`` falls to this value (DFC and DynaSeg use 3). None: never, except
        with scribbles (their number of classes) and with ``silhouette``.
    tol : float or None, default=None
        Also stop when fewer than this fraction of pixels changed cluster over each of
        ``n_iter_no_change`` consecutive steps.
    n_iter_no_change : int, default=10
        Window of the ``tol`` test.
    lr : float, default=0.1
        SGD learning rate.
    momentum : float, default=0.9
        SGD momentum (no weight decay).
    max_pixels : int or None, default=25000
        Train on the image shrunk to at most this many pixels; None trains at full
        resolution as the paper does, at a cost that grows with the pixel count
        (``docs/scaling.rst``).
    final_resolution : {"full", "training"}, default="full"
        The first output step (:class:`~skdynaguide.output.FinalResolution`): the clusters
        of an image trained shrunk come from one pass of the trained network over the
        full-size image (``"full"``, boundaries on the image's own edges) or from the
        training-size response upsampled (``"training"``, faster on large images).
    min_size : int, float or None, default=0.0005
        Smallest segment: pixels (an int) or a fraction of the image area (a float in
        (0, 1)); the hierarchy's small regions merge at every level, or with
        ``output="redraw"`` small components merge into the adjacent one of closest colour
        (:func:`~skdynaguide.output.segments.merge_small_segments`; 0 keeps every
        component, None returns the clusters themselves, as in the papers). The clusters
        are always in ``clusters_``.
    snap : int or None, default=2
        ``output="redraw"``: draw the boundaries from the guide's, each moved onto the strongest
        edge within this many pixels (:func:`~skdynaguide.output.snapping.redraw_boundaries`):
        the network decides which guide regions belong together, the snapped guide where
        they end. Suits a guide drawn on a grid of about twice this many pixels. Without a
        guide the network's own boundaries are snapped. None or 0 returns the network's
        boundaries.
    keep_edges : float in (0, 1] or None, default=0.9
        With ``snap`` and a guide: adjacent guide regions that the network merges stay
        apart where the mean edge strength along their boundary reaches this quantile of
        the image's. Lower it to keep more guide boundaries; None lets the network merge
        any.
    boundaries : str or BoundaryDetector, default="learned"
        The image's boundary map (:mod:`skdynaguide.boundaries`), which the output's
        boundaries follow: ``"learned"`` (the network shipped with the package, trained on
        BSD500's human boundaries), ``"gradient"`` (the weight-free colour gradient), a
        detector, or None (the plain colour gradient of the releases before boundary maps;
        ``"gradient"`` for hierarchies). ``guidance="hierarchy"`` cuts its guide from it.
    output : {"hierarchy", "redraw"}, default="hierarchy"
        How the clusters become segments. ``"hierarchy"``: a cut of the image's boundary
        hierarchy (:class:`~skdynaguide.output.HierarchyCut`) whose boundaries are
        strengthened where the clusters differ across them; its
        segments are connected and no smaller than ``min_size``. ``"redraw"``: connected
        segments of the clusters, boundaries redrawn from the guide's (``snap``,
        ``keep_edges``).
    threshold : float, default=0.2
        With ``output="hierarchy"``: boundaries at most this strong merge away; lower it
        for more, smaller segments (the count adapts to each image; :meth:`segments_at`
        recuts a fitted one).
    n_segments : int or None, default=None
        With ``output="hierarchy"``: this many segments per image instead of a threshold.
    network_weight : float in [0, 1), default=0.25
        With ``output="hierarchy"``: how far the clusters strengthen the boundaries between
        them (:meth:`~skdynaguide.hierarchy.BoundaryHierarchy.informed_by`); 0 trains no
        network (``n_iter_`` is 0) and returns the hierarchy's cut: by default, the guide.
    device : str, default="auto"
        Torch device: ``"auto"`` (CUDA if available), ``"cpu"``, ``"cuda"``, ``"cuda:1"``,
        ``"mps"``. An unavailable accelerator gives a warning and the CPU.
    precision : {"auto", "float32", "bfloat16"}, default="auto"
        Arithmetic of the training forward passes: ``"bfloat16"`` runs them under
        :func:`torch.autocast`, faster where the processor computes bfloat16 natively and
        slower elsewhere; losses, weights and final labels stay float32. ``"auto"``:
        bfloat16 on a CPU with native bfloat16 instructions, float32 elsewhere (GPUs
        included). The labels depend on it, as on the number of threads.
    random_state : int, RandomState instance or None, default=None
        Seeds the network initialisations, random guidance providers, the modularity
        subsamples and the silhouette phase.
    verbose : int, default=0
        0 is silent; 1 shows progress bars (tqdm) over images and iterations.
    n_jobs : int or None, default=None
        Images (or batches) segmented in parallel by joblib (-1: all cores), each worker
        with an equal share of the torch threads; under
        ``joblib.parallel_backend("dask")`` over a Dask cluster (``docs/scaling.rst``).
    batch_size : int, default=1
        Images of one training size trained together, their networks stacked as grouped
        convolutions (each keeps its own weights, statistics, loss and stopping rule; the
        results equal one-by-one training up to float rounding). Pays on a GPU. Only
        ``network="cnn"`` without the modularity term is batched.

    Attributes
    ----------
    labels_ : ndarray of shape (H, W) or list of such
        Segmentation of the image passed to :meth:`fit` (consecutive labels 0..k-1), or one
        per image for a batch: connected segments of ``min_size`` whose boundaries are the
        guide's snapped onto the image's edges (``snap``), or the clusters when
        ``min_size`` and ``snap`` are None.
    n_labels_ : int or list of int
        Number of segments ``k`` per image.
    hierarchies_ : BoundaryHierarchy, None, or list of such
        With ``output="hierarchy"``, per image the hierarchy ``labels_`` is a cut of (the
        clusters' weights applied); :meth:`segments_at` cuts it at other levels.
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
    skdynaguide.guidance.HierarchyGuidance : The default guidance.
    skdynaguide.output.HierarchyCut : How clusters become segments.
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

    With ``scribbles`` (DFC's user input, see :meth:`fit`) the loss gains
    ``scribble_weight · L_scr`` and ``L_sim`` is taken over the unscribbled pixels only.
    Faults (uniform images, one-label guides, a diverging loss, too little memory) have
    defined outcomes, listed in ``docs/reliability.rst``.

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

    _parameter_constraints: dict = constraints(
        "guidance", "continuity", "weighting", "alpha", "network", "n_features", "n_clusters",
        "n_blocks", "residual", "coordinates", "guidance_weight", "matching", "scribble_weight",
        "modularity_weight", "modularity_samples", "silhouette", "silhouette_range",
        "silhouette_samples", "max_iter", "min_labels", "tol", "n_iter_no_change", "lr",
        "momentum", "max_pixels", "final_resolution", "min_size", "snap", "keep_edges",
        "boundaries", "output", "threshold", "n_segments", "network_weight", "device",
        "precision", "random_state", "verbose", "n_jobs", "batch_size")

    def __init__(
        self,
        *,
        guidance="hierarchy",
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
        boundaries="learned",
        output="hierarchy",
        threshold=0.2,
        n_segments=None,
        network_weight=0.25,
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
        self.boundaries = boundaries
        self.output = output
        self.threshold = threshold
        self.n_segments = n_segments
        self.network_weight = network_weight
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
            One of :data:`skdynaguide.family.presets.PRESETS`: ``"dynaguide-paper"`` (the DynaGuide
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
        return tags

    # -- validation -------------------------------------------------------------------

    def _validate_params(self):
        """Check the parameters: ``_parameter_constraints``, then what they cannot express."""
        validate_params(self._parameter_constraints, self.get_params(deep=False))
        if self.n_jobs == 0:
            raise ValueError("n_jobs must not be 0 (use None or 1 for serial, -1 for all cores)")
        check_silhouette(self.get_params(deep=False))

    def _resolve(self):
        """``(config, provider)``: the one :class:`~skdynaguide.training.config.TrainingConfig`
        of every image, and the guidance provider (None without guidance)."""
        self._validate_params()
        provider = resolve_guidance(self.guidance)
        if self.boundaries is not None:
            resolve_boundaries(self.boundaries)  # a wrong name fails here, before training
        if isinstance(self.guidance, str) and self.guidance.lower() == "hierarchy":
            # the guide is cut from the hierarchy the output is cut from
            provider.set_params(boundaries=self.boundaries or "gradient",
                                min_area=0 if self.min_size is None else self.min_size)
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
        )
        return config, provider

    def _output_steps(self):
        """The output pipeline this segmenter's parameters ask for."""
        return output_steps(min_size=self.min_size, snap=self.snap, keep_edges=self.keep_edges,
                            final_resolution=self.final_resolution, output=self.output,
                            threshold=self.threshold, n_segments=self.n_segments,
                            network_weight=self.network_weight)

    # -- the work -----------------------------------------------------------------------

    def _segment(self, X, scribbles=None):
        """Segment every image of ``X``: a :class:`~skdynaguide._jobs.Segmented` of per-image lists.

        ``results`` hold the network's clusters; ``segments`` are the label maps returned
        (:func:`~skdynaguide.output.segments.output_segments` of the clusters).
        """
        config, provider = self._resolve()
        if is_empty(X):  # a transductive CV split trains on no images: nothing to do
            if scribbles is not None and len(scribbles) > 0:
                raise ValueError(f"scribbles has {len(scribbles)} entries for 0 images")
            return Segmented([], [], [], [], True, config)
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
                n_jobs=effective_n_jobs(self.n_jobs, len(images))
                * min(self.batch_size, len(images)), max_pixels=self.max_pixels)

        guides = [None] * len(images)
        if provider is not None:
            guides = compute_guidance(provider, images, [int(s) for s in seeds[:, 1]])
        uniform = {i for i, item in enumerate(items) if item.uniform}
        items = [dataclasses.replace(item, guide=guide)
                 for item, guide in zip(items, usable_guides(guides, skip=uniform))]

        batches = plan_batches(items, config, self.batch_size)
        n_jobs = effective_n_jobs(self.n_jobs, len(batches))
        parent = os.getpid()
        steps = self._output_steps()
        trains = self.output != "hierarchy" or self.network_weight > 0  # else: guide-only
        jobs = [delayed(train_batch)([items[i] for i in batch], config, steps, self.verbose,
                                      n_jobs, batch, parent, self.boundaries, trains)
                for batch in batches]
        if n_jobs == 1:
            outputs = [job[0](*job[1], **job[2]) for job in progress(jobs, self.verbose)]
        else:
            # in-process workers (threading, Dask with processes=False) share this process's
            # torch threads: give them their share here, once, rather than race in each task
            with torch_threads(max(1, (os.cpu_count() or 1) // n_jobs)):
                outputs = Parallel(n_jobs=n_jobs)(progress(jobs, self.verbose))
        results, segments, hierarchies = ([None] * len(images) for _ in range(3))
        for batch, output in zip(batches, outputs):
            for i, (result, labels, hierarchy) in zip(batch, output):
                results[i], segments[i], hierarchies[i] = result, labels, hierarchy
        warn_about(results, self.max_iter, self.tol)
        return Segmented(results, segments, guides, hierarchies, is_batch, config)

    def fit(self, X, y=None, scribbles=None):
        """Segment the image(s) ``X`` and store the results.

        Parameters
        ----------
        X : array-like of shape (H, W) or (H, W, 3), (N, H, W, C) array, or list of images
            One image, or several (of any sizes). An empty list only validates the
            parameters (the "training set" of :class:`~skdynaguide.metrics.model_selection.TransductiveSplit`).
        y : None
            Ignored; present for API consistency.
        scribbles : array-like of shape (H, W), list of such, or None, default=None
            DFC's user scribbles: for one image an integer map of its size, with class ids
            ``>= 0`` on scribbled pixels and ``UNLABELLED`` (−1) elsewhere; for several
            images a list with one map (or None) per image, or an ``(N, H, W)`` array.
            Never modified. Use ``output="redraw"`` for segments that follow the scribbled
            classes rather than the image's boundaries.

        Returns
        -------
        self : DynaGuideSegmenter
            The fitted segmenter.

        Examples
        --------
        Scribbles join the two left quadrants, which have different colours:

        >>> import numpy as np
        >>> from skdynaguide.training.scribbles import UNLABELLED
        >>> image = np.zeros((16, 16, 3)); image[:8, :8, 0] = 1; image[8:, :8, 1] = 1
        >>> scribbles = np.full((16, 16), UNLABELLED); scribbles[2:14, 3] = 5
        >>> scribbles[2:14, 12] = 9
        >>> seg = DynaGuideSegmenter(guidance=None, output="redraw", n_features=16,
        ...                          n_clusters=8, max_iter=100, tol=1e-3, random_state=0)
        >>> labels = seg.fit(image, scribbles=scribbles).labels_
        >>> bool(labels[4, 3] == labels[12, 3] != labels[4, 12])
        True
        """
        results, segments, guides, hierarchies, is_batch, config = self._segment(X, scribbles)
        pick = (lambda values: values) if is_batch else (lambda values: values[0])
        self.hierarchies_ = pick(hierarchies)
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
        done = self._segment(X)
        return done.segments if done.is_batch else done.segments[0]
