"""The DynaGuide estimator: validation, dispatch and storage around :func:`segment_image`."""
from __future__ import annotations

import os
import warnings

import numpy as np
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state

from ._device import resolve_device
from ._image import check_images, check_scalar_float, check_scalar_int
from .guidance import compute_guidance, resolve_guidance
from .losses import resolve_continuity, resolve_weighting
from .matching import resolve_matching
from .presets import PRESETS
from .scoring import bsds_score
from .training import segment_image

__all__ = ["DynaGuideSegmenter"]


class DynaGuideSegmenter(ClusterMixin, BaseEstimator):
    """Unsupervised segmentation by a small CNN trained on each image, guided by a prior.

    For every image a fresh network (:class:`~skdynaguide.network.DynaGuideNet`) is trained
    from scratch on that image alone; its per-pixel argmax is the segmentation. The loss is

    ``L = L_sim + w(q') · L_con + g(q') · L_gp``

    with ``L_sim`` the cross-entropy of the response against its own argmax, ``L_con`` a
    spatial continuity penalty, ``L_gp`` the cross-entropy against a static guidance map from
    ``guidance``, ``q'`` the current number of clusters, ``w`` the dynamic weight of
    ``weighting`` and ``g(q') = guidance_weight / q'``. Without guidance this is DynaSeg
    (``weighting="fsf"`` or ``"scf"``) or DFC (a fixed ``weighting``); see
    :meth:`from_preset` for the published configurations.

    Parameters
    ----------
    guidance : str, GuidanceProvider or None, default="kmeans"
        Source of the coarse guidance map ``P``: a registered name (``"kmeans"``, colour
        k-means with 8 clusters, the weight-free provider that measures best on BSD500;
        ``"felzenszwalb"``, ``"slic"``; ``"segformer"`` and ``"diffseg"``, the papers' pretrained
        priors, need the ``segformer`` / ``diffseg`` extras and their weights), a
        :class:`~skdynaguide.guidance.GuidanceProvider`, or None / ``"none"`` for no guidance.
    continuity : str or ContinuityLoss, default="huber"
        Spatial continuity term: ``"huber"`` (δ = 1, horizontal, vertical, diagonal and
        anti-diagonal; DynaGuide), ``"l1"`` (horizontal and vertical; DFC, DynaSeg) or a
        :class:`~skdynaguide.losses.ContinuityLoss` instance for other variants.
    weighting : {"fsf", "scf"}, float or DynamicWeight, default="fsf"
        Weight ``w(q')`` of the continuity term: ``"fsf"`` is ``q'/alpha`` (DynaGuide,
        DynaSeg-FSF), ``"scf"`` is ``alpha/q'`` (DynaSeg-SCF), a number is DFC's fixed ``μ``.
    alpha : float, default=15
        The α of ``"fsf"`` and ``"scf"`` (DynaSeg uses 50 with SCF).
    n_features : int, default=100
        Width p of the network's 3×3 blocks.
    n_clusters : int, default=100
        Number q of response channels: the most segments the output can have.
    n_blocks : int, default=2
        Number of 3×3 conv blocks (the paper's "3 blocks" count the 1×1 response conv).
    residual : bool, default=True
        Skip connection from the first block's output to the last 3×3 block's output.
    guidance_weight : float, default=100.0
        λ in the guidance weight ``g(q') = λ / q'``. The paper's ``1/q'`` is λ = 1, under
        which the guide barely acts within the default 100 steps; 100 measures best on
        BSD500 train and val (``benchmarks/RESULTS.md``).
    matching : {"index", "hungarian", "majority", "sorted"} or GuideMatching, default="index"
        How guide segments are expressed as channels for ``L_gp`` at each iteration; see
        :mod:`skdynaguide.matching`. ``"index"`` is the paper's formula (guide segment k is
        channel k) and measures best; ``"sorted"`` is the authors' code.
    max_iter : int, default=100
        Maximum number of SGD steps per image (the paper runs 1000).
    min_labels : int or None, default=None
        Stop when the number of clusters ``q'`` falls to this value (DFC and DynaSeg use 3;
        DynaGuide runs a fixed number of steps, and under guidance ``q'`` rarely falls that
        low); None disables the test.
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
        Train on the image shrunk to at most this many pixels and upsample the final response
        bilinearly to full size; None trains at full resolution as the paper does (slow: about
        2 s per step for a 321×481 image on two CPU cores).
    device : str, default="auto"
        Torch device: ``"auto"`` (CUDA if available), ``"cpu"``, ``"cuda"``, ``"cuda:1"``,
        ``"mps"``. An unavailable accelerator gives a warning and the CPU.
    random_state : int, RandomState instance or None, default=None
        Seeds the network initialisations and random guidance providers. With an int, the
        same images give the same labels (on the CPU).
    verbose : int, default=0
        0 is silent; 1 shows progress bars (tqdm) over images and iterations.
    n_jobs : int or None, default=None
        Images segmented in parallel by joblib (-1: all cores); each worker gets an equal
        share of the torch threads.

    Attributes
    ----------
    labels_ : ndarray of shape (H, W) or list of such
        Segmentation of the image passed to :meth:`fit` (consecutive labels 0..k-1), or one
        per image for a batch.
    n_labels_ : int or list of int
        Number of segments ``k`` per image.
    n_iter_ : int or list of int
        SGD steps run per image.
    guidance_labels_ : ndarray of shape (H, W), None, or list of such
        The guidance map ``P`` used for each image (None without guidance).
    loss_history_ : dict or list of dict
        Per image, arrays indexed by iteration: ``"loss"`` (total), ``"similarity"``,
        ``"continuity"``, ``"guidance"`` (the unweighted terms), ``"continuity_weight"``,
        ``"guidance_weight"`` and ``"n_labels"`` (``q'``).
    device_ : str
        The device the networks were trained on.

    See Also
    --------
    skdynaguide.guidance.KMeansGuidance : The default guidance.
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

    def __init__(
        self,
        guidance="kmeans",
        continuity="huber",
        weighting="fsf",
        alpha=15.0,
        n_features=100,
        n_clusters=100,
        n_blocks=2,
        residual=True,
        guidance_weight=100.0,
        matching="index",
        max_iter=100,
        min_labels=None,
        tol=None,
        n_iter_no_change=10,
        lr=0.1,
        momentum=0.9,
        max_pixels=25000,
        device="auto",
        random_state=None,
        verbose=0,
        n_jobs=None,
    ):
        self.guidance = guidance
        self.continuity = continuity
        self.weighting = weighting
        self.alpha = alpha
        self.n_features = n_features
        self.n_clusters = n_clusters
        self.n_blocks = n_blocks
        self.residual = residual
        self.guidance_weight = guidance_weight
        self.matching = matching
        self.max_iter = max_iter
        self.min_labels = min_labels
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.lr = lr
        self.momentum = momentum
        self.max_pixels = max_pixels
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.n_jobs = n_jobs

    @classmethod
    def from_preset(cls, name, **params):
        """A segmenter configured as a published method, with ``params`` overriding it.

        Parameters
        ----------
        name : str
            One of :data:`skdynaguide.presets.PRESETS`: ``"dynaguide-paper"`` (the DynaGuide
            paper executed literally: full resolution, 1000 iterations), ``"dynaseg-fsf"``,
            ``"dynaseg-scf"``, ``"dfc"``.
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

    def _resolve(self):
        """Validate the parameters and resolve strings to objects (called by fit/predict)."""
        check_scalar_int(self.n_features, "n_features", min_value=1)
        check_scalar_int(self.n_clusters, "n_clusters", min_value=2)
        check_scalar_int(self.n_blocks, "n_blocks", min_value=1)
        check_scalar_int(self.max_iter, "max_iter", min_value=1)
        check_scalar_int(self.min_labels, "min_labels", min_value=1, allow_none=True)
        check_scalar_int(self.n_iter_no_change, "n_iter_no_change", min_value=1)
        check_scalar_int(self.max_pixels, "max_pixels", min_value=4, allow_none=True)
        check_scalar_int(self.verbose, "verbose", min_value=0)
        check_scalar_float(self.alpha, "alpha", min_value=0, strict=True)
        check_scalar_float(self.guidance_weight, "guidance_weight", min_value=0)
        check_scalar_float(self.tol, "tol", min_value=0, allow_none=True)
        check_scalar_float(self.lr, "lr", min_value=0, strict=True)
        check_scalar_float(self.momentum, "momentum", min_value=0)
        if not isinstance(self.residual, bool):
            raise TypeError(f"residual must be a bool, got {self.residual!r}")
        if self.n_jobs is not None:
            check_scalar_int(self.n_jobs, "n_jobs")
            if self.n_jobs == 0:
                raise ValueError("n_jobs must not be 0 (use None or 1 for serial, -1 for all cores)")
        return dict(
            provider=resolve_guidance(self.guidance),
            continuity=resolve_continuity(self.continuity),
            weighting=resolve_weighting(self.weighting, self.alpha),
            matching=resolve_matching(self.matching),
            device=resolve_device(self.device),
        )

    # -- the work -----------------------------------------------------------------------

    def _segment(self, X):
        """Segment every image of ``X``; returns (results, guides, is_batch, device)."""
        resolved = self._resolve()
        if _is_empty(X):  # a transductive CV split trains on no images: nothing to do
            return [], [], True, resolved["device"]
        images, is_batch = check_images(X)
        rng = check_random_state(self.random_state)
        seeds = rng.randint(np.iinfo(np.int32).max, size=(len(images), 2))

        provider = resolved["provider"]
        guides = [None] * len(images)
        if provider is not None:
            guides = compute_guidance(provider, images, [int(s) for s in seeds[:, 1]])

        train = dict(
            device=resolved["device"],
            n_features=self.n_features,
            n_clusters=self.n_clusters,
            n_blocks=self.n_blocks,
            residual=self.residual,
            continuity=resolved["continuity"],
            weighting=resolved["weighting"],
            matching=resolved["matching"],
            guidance_weight=float(self.guidance_weight),
            max_iter=self.max_iter,
            min_labels=self.min_labels,
            tol=self.tol,
            n_iter_no_change=self.n_iter_no_change,
            lr=float(self.lr),
            momentum=float(self.momentum),
            max_pixels=self.max_pixels,
        )
        n_jobs = _effective_n_jobs(self.n_jobs, len(images))
        jobs = [
            delayed(_segment_one)(image, guide, int(seed), train, self.verbose, n_jobs, i)
            for i, (image, guide, seed) in enumerate(zip(images, guides, seeds[:, 0]))
        ]
        if n_jobs == 1:
            results = [job[0](*job[1], **job[2]) for job in _progress(jobs, self.verbose)]
        else:
            results = Parallel(n_jobs=n_jobs)(_progress(jobs, self.verbose))
        self._warn_unconverged(results)
        return results, guides, is_batch, resolved["device"]

    def _warn_unconverged(self, results):
        if self.min_labels is None and self.tol is None:
            return  # a fixed iteration budget: nothing to converge
        late = [i for i, r in enumerate(results) if r.stop_reason == "max_iter"]
        if late:
            which = "the image" if len(results) == 1 else f"{len(late)} of {len(results)} images"
            warnings.warn(
                f"Training of {which} stopped at max_iter={self.max_iter} before reaching "
                f"min_labels={self.min_labels} or tol={self.tol}; the result is usable, "
                "raise max_iter to train longer",
                ConvergenceWarning,
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

    def fit(self, X, y=None):
        """Segment the image(s) ``X`` and store the results.

        Parameters
        ----------
        X : array-like of shape (H, W) or (H, W, 3), (N, H, W, C) array, or list of images
            One image, or several (of any sizes). An empty list only validates the
            parameters (the "training set" of :class:`~skdynaguide.model_selection.TransductiveSplit`).
        y : None
            Ignored; present for API consistency.

        Returns
        -------
        self : DynaGuideSegmenter
            The fitted segmenter.
        """
        results, guides, is_batch, device = self._segment(X)
        pick = (lambda values: values) if is_batch else (lambda values: values[0])
        self.labels_ = pick([r.labels for r in results])
        self.n_labels_ = pick([int(r.labels.max()) + 1 for r in results])
        self.n_iter_ = pick([r.n_iter for r in results])
        self.guidance_labels_ = pick(guides)
        self.loss_history_ = pick([r.history for r in results])
        self.device_ = device
        return self

    def fit_predict(self, X, y=None):
        """Segment ``X`` and return the label map(s) (also stored in ``labels_``).

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
        results, _, is_batch, _ = self._segment(X)
        labels = [r.labels for r in results]
        return labels if is_batch else labels[0]

    def score(self, X, y):
        """Best-overlap segment mIoU of the segmentation of ``X`` against ``y`` (SPEC §3).

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


def _segment_one(image, guide, seed, train, verbose, n_jobs, index):
    """Segment one image (in this process or a joblib worker) with its share of threads."""
    import torch

    previous = torch.get_num_threads()
    if n_jobs > 1:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // n_jobs))
    bar = None
    progress = None
    if verbose >= 1:
        from tqdm.auto import tqdm

        bar = tqdm(total=train["max_iter"], desc=f"image {index}", unit="it", leave=False)

        def progress(iteration, n_labels):
            bar.update(1)
            bar.set_postfix(q=n_labels, refresh=False)

    try:
        return segment_image(image, guide, seed=seed, progress=progress, **train)
    finally:
        if bar is not None:
            bar.close()
        torch.set_num_threads(previous)
