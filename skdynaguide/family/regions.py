"""DCN's region classification: one set of class ids for the regions of a whole dataset.

Per-image segmenters (DynaGuide, DFC, felzenszwalb...) give every image its own arbitrary
ids. :class:`RegionClassifier` embeds every region of every image
(:mod:`skdynaguide.family.embedding`) and clusters all of them with k-means, so that a class id
means the same thing in every image and a dataset-level Hungarian mIoU
(:func:`~skdynaguide.metrics.hungarian_miou` with ``accumulate=True``) is meaningful.
:func:`repeated_scores` reruns the k-means with different seeds and reports mean ± std, as
DCN does.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans
from sklearn.metrics import pairwise_distances_argmin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from .._image import (check_images, check_label_map, check_scalar_int, relabel_connected,
                      relabel_consecutive)
from .embedding import resolve_embedder
from .._labels import as_label_maps
from ..metrics.scores import hungarian_miou, pixel_accuracy

__all__ = ["RegionClassifier", "RegionData", "repeated_scores", "RepeatedScores", "cluster_regions"]


class RegionClassifier(ClusterMixin, BaseEstimator):
    """Cluster the regions of a dataset's label maps into classes shared by all images.

    Every region (every distinct id of a label map; or every connected piece of one, with
    ``split_connected``) of every image is embedded by ``embedder``; k-means groups all the
    vectors into ``n_classes`` classes; each region's pixels then take its class. This is the
    second stage of DCN (Li et al.), generalised: the label maps can come from any per-image
    segmenter, and the embedder is pluggable.

    Parameters
    ----------
    n_classes : int, default=8
        Number K of classes (k-means clusters) for the whole dataset.
    embedder : {"colour", "dino"} or RegionEmbedder, default="colour"
        How a region becomes a vector: ``"colour"``
        (:class:`~skdynaguide.family.embedding.ColourTextureEmbedder`: Lab colour moments and
        histograms and gradient statistics, weight-free), ``"dino"``
        (:class:`~skdynaguide.family.embedding.DINOEmbedder`: mean DINO ViT-S/8 patch token; needs
        transformers and the weights), or an embedder instance.
    split_connected : bool, default=False
        Classify every connected piece (4-connectivity) of a label separately; useful when
        the labels are colour clusters spanning separate areas.
    area_weighted : bool, default=True
        Weigh every region by its number of pixels in k-means, so that the centres fit the
        pixels (what mIoU counts) rather than the many small fringe regions.
    n_init : int, default=10
        k-means initialisations (k-means++); the best inertia is kept.
    max_iter : int, default=300
        Maximum Lloyd iterations per k-means run.
    random_state : int, RandomState instance or None, default=None
        Seeds k-means.

    Attributes
    ----------
    labels_ : ndarray of shape (H, W), or list of such
        Class map of each image passed to :meth:`fit` (ids ``0..n_classes-1``, the same
        class in every image; an image may lack some).
    region_labels_ : ndarray of shape (n_regions,), or list of such
        Per image, the class of each region, the regions in increasing order of their id in
        the label map (with ``split_connected``, in the order of
        :func:`~skdynaguide.metrics.relabel_connected`).
    n_regions_ : int or list of int
        Regions per image.
    cluster_centers_ : ndarray of shape (n_classes, n_features)
        The k-means centres, in the embedder's space.
    inertia_ : float
        Weighted sum of squared distances of the regions to their centres.
    n_iter_ : int
        Lloyd iterations of the best k-means run.

    See Also
    --------
    repeated_scores : Dataset-level Hungarian mIoU over several k-means seeds (mean ± std).
    skdynaguide.metrics.hungarian_miou : Its ``accumulate=True`` scores the output.

    Notes
    -----
    :meth:`predict` classifies the regions of new images by their nearest centre; the
    classes are those learnt by :meth:`fit`. There is no ``transform``: in scikit-learn it
    would mean distances to the centres, not class maps.

    DCN (Li et al.) pairs this stage with its per-image modularity clustering
    (:class:`~skdynaguide.losses.ModularityLoss`, ``modularity_weight`` of
    :class:`~skdynaguide.DynaGuideSegmenter`); any label maps work here.

    Examples
    --------
    Two images, a red and a blue region each, with arbitrary ids per image:

    >>> import numpy as np
    >>> red, blue = [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]
    >>> a = np.zeros((4, 4, 3)); a[:, :2], a[:, 2:] = red, blue
    >>> b = np.zeros((4, 4, 3)); b[:2], b[2:] = blue, red
    >>> maps = [np.repeat([[7, 7, 3, 3]], 4, axis=0), np.repeat([[5], [5], [9], [9]], 4, axis=1)]
    >>> out = RegionClassifier(n_classes=2, random_state=0).fit_predict([a, b], maps)
    >>> bool(out[0][0, 0] == out[1][3, 0]) and bool(out[0][0, 3] == out[1][0, 0])
    True
    """

    def __init__(self, n_classes=8, embedder="colour", split_connected=False, area_weighted=True,
                 n_init=10, max_iter=300, random_state=None):
        self.n_classes = n_classes
        self.embedder = embedder
        self.split_connected = split_connected
        self.area_weighted = area_weighted
        self.n_init = n_init
        self.max_iter = max_iter
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        return tags

    def _check_params(self):
        check_scalar_int(self.n_classes, "n_classes", min_value=1)
        check_scalar_int(self.n_init, "n_init", min_value=1)
        check_scalar_int(self.max_iter, "max_iter", min_value=1)
        for flag in ("split_connected", "area_weighted"):
            if not isinstance(getattr(self, flag), (bool, np.bool_)):
                raise TypeError(f"{flag} must be a bool, got {getattr(self, flag)!r}")
        return resolve_embedder(self.embedder)

    def embed_regions(self, images, label_maps):
        """Validate the data and embed every region once (the work :meth:`fit` starts with).

        Parameters
        ----------
        images, label_maps
            As for :meth:`fit`.

        Returns
        -------
        regions : RegionData
            Per-image region maps, the stacked region vectors and areas.
        """
        embedder = self._check_params()
        images, is_batch = check_images(images)
        maps = _check_label_maps(label_maps, images, is_batch)
        split = relabel_connected if self.split_connected else relabel_consecutive
        regions = [split(m) for m in maps]
        features = [_checked_embedding(embedder, im, reg, i)
                    for i, (im, reg) in enumerate(zip(images, regions))]
        widths = {f.shape[1] for f in features}
        if len(widths) > 1:
            raise ValueError(f"{type(embedder).__name__} returned vectors of different lengths "
                             f"{sorted(widths)} for different images")
        areas = np.concatenate([np.bincount(r.ravel()) for r in regions]).astype(np.float64)
        return RegionData(regions=regions, features=np.concatenate(features), areas=areas,
                          is_batch=is_batch)

    def fit(self, images, label_maps):
        """Embed every region of ``images`` and cluster the regions into ``n_classes`` classes.

        Parameters
        ----------
        images : array-like of shape (H, W[, 3]), (N, H, W, C) array, or list of images
            The dataset (images of any sizes); same conventions as
            :class:`~skdynaguide.DynaGuideSegmenter`. Never modified.
        label_maps : array-like of shape (H, W), (N, H, W) array, or list of such
            One integer map per image, of its size; its ids (arbitrary integers) define the
            regions. Never modified.

        Returns
        -------
        self : RegionClassifier
        """
        data = self.embed_regions(images, label_maps)
        _check_enough_regions(self.n_classes, data)
        seed = check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        kmeans = cluster_regions(data.features, self.n_classes, sample_weight=self._weights(data),
                                 n_init=self.n_init, max_iter=self.max_iter, random_state=seed)
        pick = (lambda values: values) if data.is_batch else (lambda values: values[0])
        per_image = data.split(kmeans.labels_)
        self.region_labels_ = pick(per_image)
        self.labels_ = pick([classes[reg] for classes, reg in zip(per_image, data.regions)])
        self.n_regions_ = pick([len(classes) for classes in per_image])
        self.cluster_centers_ = kmeans.cluster_centers_
        self.inertia_ = float(kmeans.inertia_)
        self.n_iter_ = int(kmeans.n_iter_)
        return self

    def fit_predict(self, images, label_maps):
        """Fit and return the class maps (also stored in ``labels_``).

        Parameters
        ----------
        images, label_maps
            As for :meth:`fit`.

        Returns
        -------
        labels : ndarray of shape (H, W), or list of such
        """
        return self.fit(images, label_maps).labels_

    def predict(self, images, label_maps):
        """Class maps of (new) images: each region takes the class of its nearest centre.

        Parameters
        ----------
        images, label_maps
            As for :meth:`fit`.

        Returns
        -------
        labels : ndarray of shape (H, W), or list of such
        """
        check_is_fitted(self, "cluster_centers_")
        data = self.embed_regions(images, label_maps)
        if data.features.shape[1] != self.cluster_centers_.shape[1]:
            raise ValueError(
                f"the regions are embedded in {data.features.shape[1]} dimensions but the "
                f"classifier was fitted in {self.cluster_centers_.shape[1]}"
            )
        classes = pairwise_distances_argmin(data.features, self.cluster_centers_)
        labels = [c[reg] for c, reg in zip(data.split(classes), data.regions)]
        return labels if data.is_batch else labels[0]

    def _weights(self, data):
        return data.areas if self.area_weighted else None


@dataclass
class RegionData:
    """The regions of a dataset, embedded (what :meth:`RegionClassifier.embed_regions` returns).

    Attributes
    ----------
    regions : list of ndarray of shape (H, W)
        Per image, region ids ``0..k-1``.
    features : ndarray of shape (n_regions_total, d)
        The region vectors, image after image.
    areas : ndarray of shape (n_regions_total,)
        The regions' pixel counts.
    is_batch : bool
        False when a single image was given.

    Examples
    --------
    >>> import numpy as np
    >>> from skdynaguide import RegionClassifier
    >>> image = np.zeros((4, 4, 3)); image[:, 2:] = 1.0
    >>> regions = np.repeat([[0, 0, 1, 1]], 4, axis=0)
    >>> data = RegionClassifier(n_classes=2).embed_regions([image], [regions])
    >>> data.features.shape[0], [int(a) for a in data.areas]
    (2, [8, 8])
    """

    regions: list
    features: np.ndarray
    areas: np.ndarray
    is_batch: bool = True

    def split(self, values):
        """Cut one value per region (stacked) into one int64 array per image."""
        bounds = np.cumsum([int(r.max()) + 1 for r in self.regions])[:-1]
        return [np.asarray(part, dtype=np.int64) for part in np.split(values, bounds)]


def cluster_regions(features, n_classes, *, sample_weight=None, n_init=10, max_iter=300,
                    random_state=None):
    """k-means (k-means++ initialisation, Lloyd) of region vectors; the fitted ``KMeans``.

    Parameters
    ----------
    features : ndarray of shape (n_regions, d)
    n_classes : int
    sample_weight : ndarray of shape (n_regions,) or None
        E.g. the regions' areas.
    n_init, max_iter, random_state
        Those of :class:`sklearn.cluster.KMeans`.

    Returns
    -------
    kmeans : sklearn.cluster.KMeans

    Examples
    --------
    >>> import numpy as np
    >>> from skdynaguide.family.regions import cluster_regions
    >>> features = np.array([[0.0], [0.1], [5.0], [5.2]])
    >>> kmeans = cluster_regions(features, 2, random_state=0)
    >>> labels = kmeans.labels_.tolist()
    >>> labels[0] == labels[1] != labels[2] == labels[3]
    True
    """
    kmeans = KMeans(n_clusters=n_classes, n_init=n_init, max_iter=max_iter,
                    random_state=random_state)
    return kmeans.fit(features, sample_weight=sample_weight)


@dataclass
class RepeatedScores:
    """Dataset-level scores of several k-means runs (what :func:`repeated_scores` returns).

    Attributes
    ----------
    miou : ndarray of shape (n_repeats,)
        Hungarian mIoU of each run, one confusion matrix accumulated over the dataset.
    accuracy : ndarray of shape (n_repeats,)
        Pixel accuracy of each run under the same matching.
    seeds : ndarray of shape (n_repeats,)
        The k-means seed of each run.

    Examples
    --------
    >>> import numpy as np
    >>> from skdynaguide.family.regions import RepeatedScores
    >>> print(RepeatedScores(miou=np.array([0.5, 0.7]), accuracy=np.array([0.8, 0.8])))
    mIoU 0.6000 ± 0.1414, pixel accuracy 0.8000 ± 0.0000 (2 runs)
    """

    miou: np.ndarray
    accuracy: np.ndarray
    seeds: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def miou_mean(self):
        return float(np.mean(self.miou))

    @property
    def miou_std(self):
        """Sample standard deviation (``ddof=1``; 0 for a single run)."""
        return float(np.std(self.miou, ddof=1)) if len(self.miou) > 1 else 0.0

    @property
    def accuracy_mean(self):
        return float(np.mean(self.accuracy))

    @property
    def accuracy_std(self):
        return float(np.std(self.accuracy, ddof=1)) if len(self.accuracy) > 1 else 0.0

    def __str__(self):
        return (f"mIoU {self.miou_mean:.4f} ± {self.miou_std:.4f}, pixel accuracy "
                f"{self.accuracy_mean:.4f} ± {self.accuracy_std:.4f} ({len(self.miou)} runs)")


def repeated_scores(classifier, images, label_maps, y, *, n_repeats=5, ignore_index=None):
    """Dataset-level Hungarian mIoU of region classification over ``n_repeats`` k-means seeds.

    The regions are embedded once; k-means (with the classifier's ``n_init``, ``max_iter``
    and weighting) then runs ``n_repeats`` times with seeds drawn from its ``random_state``.
    Each run's class maps are scored against ``y`` with one confusion matrix accumulated
    over the dataset and one Hungarian matching (DCN reports the mean ± std of such runs).
    The classifier itself is not fitted or modified.

    Parameters
    ----------
    classifier : RegionClassifier
        Its parameters define the runs.
    images, label_maps
        As for :meth:`RegionClassifier.fit`.
    y : list of array-like of shape (H, W)
        Ground-truth class map of each image (a single map for a single image).
    n_repeats : int, default=5
        Number of k-means runs.
    ignore_index : int, optional
        Ground-truth label left out (e.g. 255 for "void").

    Returns
    -------
    RepeatedScores

    Examples
    --------
    >>> import numpy as np
    >>> from skdynaguide import RegionClassifier
    >>> image = np.zeros((4, 4, 3)); image[:, 2:, 1] = 1.0
    >>> truth = np.repeat([[0, 0, 1, 1]], 4, axis=0)
    >>> scores = repeated_scores(RegionClassifier(n_classes=2, random_state=0),
    ...                          [image, image], [truth, 5 * truth], [truth, truth], n_repeats=3)
    >>> scores.miou.tolist(), scores.miou_std
    ([1.0, 1.0, 1.0], 0.0)
    """
    if not isinstance(classifier, RegionClassifier):
        raise TypeError(f"classifier must be a RegionClassifier, got {type(classifier).__name__}")
    n_repeats = check_scalar_int(n_repeats, "n_repeats", min_value=1)
    data = classifier.embed_regions(images, label_maps)
    truths = as_label_maps(y) if data.is_batch else [y]
    if len(truths) != len(data.regions):
        raise ValueError(f"y has {len(truths)} maps for {len(data.regions)} images")
    _check_enough_regions(classifier.n_classes, data)
    seeds = check_random_state(classifier.random_state).randint(np.iinfo(np.int32).max,
                                                                size=n_repeats)
    mious, accuracies = [], []
    for seed in seeds:
        kmeans = cluster_regions(data.features, classifier.n_classes,
                                 sample_weight=classifier._weights(data),
                                 n_init=classifier.n_init, max_iter=classifier.max_iter,
                                 random_state=int(seed))
        labels = [c[reg] for c, reg in zip(data.split(kmeans.labels_), data.regions)]
        options = dict(ignore_index=ignore_index, accumulate=True)
        mious.append(hungarian_miou(truths, labels, **options))
        accuracies.append(pixel_accuracy(truths, labels, **options))
    return RepeatedScores(miou=np.array(mious), accuracy=np.array(accuracies),
                          seeds=seeds.astype(np.int64))


def _check_label_maps(label_maps, images, is_batch):
    """One validated int64 map per image, of the image's size."""
    if not is_batch:
        return [check_label_map(label_maps, shape=images[0].shape[:2], name="label_maps")]
    if isinstance(label_maps, np.ndarray) and label_maps.ndim == 3:
        label_maps = list(label_maps)
    if not isinstance(label_maps, (list, tuple)):
        raise TypeError(f"label_maps must be a list of (H, W) maps (one per image) or an "
                        f"(N, H, W) array for several images, got {type(label_maps).__name__}")
    if len(label_maps) != len(images):
        raise ValueError(f"{len(images)} images but {len(label_maps)} label maps: give one "
                         "label map per image")
    return [check_label_map(m, shape=im.shape[:2], name=f"label_maps[{i}]")
            for i, (m, im) in enumerate(zip(label_maps, images))]


def _checked_embedding(embedder, image, regions, index):
    features = np.asarray(embedder.embed(image, regions), dtype=np.float64)
    n_regions = int(regions.max()) + 1
    if features.ndim != 2 or features.shape[0] != n_regions:
        raise ValueError(f"{type(embedder).__name__} returned an array of shape {features.shape} "
                         f"for the {n_regions} regions of image {index}; expected ({n_regions}, d)")
    if not np.all(np.isfinite(features)):
        raise ValueError(f"{type(embedder).__name__} returned NaN or infinite values for "
                         f"image {index}")
    return features


def _check_enough_regions(n_classes, data):
    n_regions = len(data.features)
    if n_classes > n_regions:
        raise ValueError(
            f"n_classes={n_classes} exceeds the number of regions, {n_regions} in "
            f"{len(data.regions)} image(s): k-means cannot make more classes than regions"
        )
