"""IL2Vseg's low-level colour cue as a weight-free guidance provider.

Spatially constrained fuzzy c-means on pixel colours (memberships smoothed by their 3×3
neighbourhood sums, centres updated with the smoothed memberships), followed by a Gaussian
colour-affinity propagation of the memberships. The propagation is computed on a coarse
colour grid (splat, blur, slice, as in the bilateral grid), never with an N×N pixel matrix.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage, sparse
from skimage.color import rgb2lab
from sklearn.cluster import kmeans_plusplus
from sklearn.utils import check_random_state

from .._image import check_scalar_float, check_scalar_int, relabel_consecutive
from .base import GuidanceProvider

__all__ = ["FCMGuidance", "fcm_memberships", "spatial_fcm", "colour_propagate"]

# Distances are clamped here so that a pixel sitting on a centre keeps finite memberships.
_EPS = 1e-30
# Most cells the colour grid may have; beyond it the grid step grows (and the blur shrinks
# to keep the effective kernel width sigma while it can).
_MAX_GRID_CELLS = 2**18


def fcm_memberships(sq_distances, m=2.0):
    """Fuzzy c-means memberships from squared distances to the centres.

    ``u_ij = 1 / Σ_k (d_ij / d_kj)^(1/(m-1))`` (Bezdek), computed as
    ``(d_min / d_ij)^(1/(m-1))`` normalised over the clusters, which cannot overflow.

    Parameters
    ----------
    sq_distances : ndarray of shape (n_pixels, n_clusters)
        Squared distances of every pixel to every centre.
    m : float, default=2
        Fuzzifier, > 1; larger is fuzzier.

    Returns
    -------
    memberships : ndarray of shape (n_pixels, n_clusters)
        Non-negative, each row summing to one.

    Examples
    --------
    >>> import numpy as np
    >>> fcm_memberships(np.array([[1.0, 4.0]]), m=2).round(3).tolist()
    [[0.8, 0.2]]
    """
    d = np.maximum(sq_distances, _EPS)
    if m == 2.0:  # the common case, in three passes: u ∝ 1/d
        u = np.reciprocal(d, out=d)  # d is a fresh array
    else:
        u = (d.min(axis=1, keepdims=True) / d) ** (1.0 / (m - 1.0))
    u /= u.sum(axis=1, keepdims=True)
    return u


def _sq_distances(pixels_t, sq_norms, centres):
    """(n_clusters, n_pixels) squared Euclidean distances, by one matrix product."""
    d = (-2.0 * centres).astype(pixels_t.dtype) @ pixels_t
    d += sq_norms[None]
    d += (centres**2).sum(axis=1).astype(pixels_t.dtype)[:, None]
    return np.maximum(d, 0.0, out=d)


def _neighbourhood_sums(u):
    """3×3 sums (zero outside the image) of each (k, H, W) membership plane."""
    padded = np.pad(u, ((0, 0), (1, 1), (1, 1)))
    rows = padded[:, :-2] + padded[:, 1:-1] + padded[:, 2:]
    return rows[:, :, :-2] + rows[:, :, 1:-1] + rows[:, :, 2:]


def spatial_fcm(features, n_clusters, *, m=2.0, spatial_weight=1.0, max_iter=100, tol=1e-2,
                random_state=None):
    """Spatially constrained fuzzy c-means on an (H, W, C) feature image.

    Each iteration computes the FCM memberships ``u`` to the current centres, their 3×3
    neighbourhood sums ``h`` (the pixel and its 8 neighbours), the spatial memberships
    ``u' ∝ u · h^q`` (q = ``spatial_weight``; Chuang et al. 2006 with p = 1), and the centres
    ``v_i = Σ_j u'_ij^m x_j / Σ_j u'_ij^m``.

    Parameters
    ----------
    features : ndarray of shape (H, W, C)
        Pixel features (colours).
    n_clusters : int
        Number of clusters (fewer if the image has fewer distinct features).
    m : float, default=2
        Fuzzifier, > 1.
    spatial_weight : float, default=1
        Exponent q of the neighbourhood sums; 0 is plain FCM.
    max_iter : int, default=100
        Most iterations.
    tol : float, default=1e-2
        Stop when no membership changed by more than this over one iteration.
    random_state : int, RandomState instance or None
        Seeds the k-means++ choice of the initial centres.

    Returns
    -------
    memberships : ndarray of shape (H, W, k), float32
        The spatial memberships ``u'`` of the last iteration; each pixel's sum to one.
    centres : ndarray of shape (k, C)
    n_iter : int
        Iterations run.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.zeros((8, 8, 3)); image[:, 4:] = 100.0
    >>> u, centres, _ = spatial_fcm(image, 2, random_state=0)
    >>> u.shape, bool(np.allclose(u.sum(-1), 1))
    ((8, 8, 2), True)
    """
    rng = check_random_state(random_state)
    height, width, n_channels = features.shape
    pixels = features.reshape(-1, n_channels).astype(np.float32)
    sample = pixels
    if len(pixels) > 10000:
        sample = pixels[rng.choice(len(pixels), 10000, replace=False)]
    n_clusters = min(n_clusters, len(np.unique(sample, axis=0)))
    centres, _ = kmeans_plusplus(sample.astype(np.float64), n_clusters, random_state=rng)

    # cluster-major (k, N) layout: the per-pixel sums over clusters run on contiguous rows
    pixels_t = np.ascontiguousarray(pixels.T)
    sq_norms = (pixels_t**2).sum(axis=0)
    previous, n_iter = None, 0
    for n_iter in range(1, max_iter + 1):
        u = fcm_memberships(_sq_distances(pixels_t, sq_norms, centres).T, m).T
        if spatial_weight > 0:
            h = _neighbourhood_sums(u.reshape(n_clusters, height, width)).reshape(n_clusters, -1)
            u *= h if spatial_weight == 1.0 else h**spatial_weight
            u /= np.maximum(u.sum(axis=0), _EPS)
        weights = u * u if m == 2.0 else u**m
        centres = (weights @ pixels).astype(np.float64)
        centres /= np.maximum(weights.sum(axis=1), _EPS)[:, None]
        if previous is not None and np.abs(u - previous).max() < tol:
            break
        previous = u
    return u.T.reshape(height, width, n_clusters), centres, n_iter


def _grid_step(colours, sigma):
    """Cell size of the colour grid: sigma / 2, or larger if the grid would be too big."""
    extent = colours.max(axis=0) - colours.min(axis=0)
    step = sigma / 2.0
    cells = np.prod(np.floor(extent / step) + 2)
    if cells > _MAX_GRID_CELLS:
        step *= (cells / _MAX_GRID_CELLS) ** (1.0 / colours.shape[1])
    return step


def colour_propagate(values, colours, sigma):
    """Gaussian colour-affinity averaging of per-pixel values, on a colour grid.

    Approximates ``out_i = Σ_j K_ij values_j / Σ_j K_ij`` with
    ``K_ij = exp(-|c_i - c_j|² / (2 sigma²))`` over all pixel pairs, without any N×N
    matrix: the values (and a row of ones, for the normaliser) are splatted onto a regular
    colour grid of step ``sigma / 2`` by multilinear interpolation, blurred by a Gaussian and
    sliced back with the same interpolation weights. Splat and slice each widen the kernel
    by a variance of ``step² / 6`` per axis, so the blur's width is reduced to keep the
    effective width ``sigma``. Cost: O(N · 2^C) plus the blur of the grid.

    Parameters
    ----------
    values : ndarray of shape (n_pixels, n_values)
        What to propagate (e.g. memberships; rows summing to one stay so).
    colours : ndarray of shape (n_pixels, C)
        Pixel colours, in the units of ``sigma``.
    sigma : float
        Width of the colour affinity, > 0.

    Returns
    -------
    propagated : ndarray of shape (n_pixels, n_values)

    Examples
    --------
    >>> import numpy as np
    >>> colours = np.array([[0.0, 0, 0], [1, 0, 0], [100, 0, 0]])
    >>> values = np.array([[1.0, 0], [0, 1], [0, 1]])
    >>> colour_propagate(values, colours, sigma=5).round(1).tolist()
    [[0.5, 0.5], [0.5, 0.5], [0.0, 1.0]]
    """
    n_pixels, n_dims = colours.shape
    step = _grid_step(colours, sigma)
    coords = (colours - colours.min(axis=0)) / step
    base = np.floor(coords).astype(np.int64)
    frac = coords - base
    shape = tuple(int(s) for s in base.max(axis=0) + 2)

    # each pixel's 2^C surrounding grid nodes and their multilinear weights
    corners = np.array(np.meshgrid(*[[0, 1]] * n_dims, indexing="ij")).reshape(n_dims, -1).T
    index = np.empty((n_pixels, len(corners)), dtype=np.int64)
    weight = np.empty((n_pixels, len(corners)))
    for k, corner in enumerate(corners):
        index[:, k] = np.ravel_multi_index((base + corner).T, shape)
        weight[:, k] = np.prod(np.where(corner, frac, 1.0 - frac), axis=1)
    interp = sparse.csr_matrix(
        (weight.ravel(), index.ravel(), np.arange(0, n_pixels * len(corners) + 1, len(corners))),
        shape=(n_pixels, int(np.prod(shape))),
    )

    homogeneous = np.hstack([values, np.ones((n_pixels, 1))])
    grid = np.asarray(interp.T @ homogeneous).reshape(*shape, -1)
    blur = np.sqrt(max(sigma**2 - step**2 / 3.0, 0.0)) / step
    if blur > 0:
        grid = ndimage.gaussian_filter(grid, sigma=[blur] * n_dims + [0], mode="constant")
    sliced = np.asarray(interp @ grid.reshape(-1, grid.shape[-1]))
    return sliced[:, :-1] / np.maximum(sliced[:, -1:], _EPS)


class FCMGuidance(GuidanceProvider, name="fcm"):
    """Spatially constrained fuzzy c-means with colour affinity (IL2Vseg's low-level cue).

    :func:`spatial_fcm` clusters the pixel colours with memberships smoothed over each
    pixel's 3×3 neighbourhood; :func:`colour_propagate` then averages the memberships of
    pixels of similar colour (Gaussian colour affinity of width ``sigma``, on a colour grid,
    never an N×N matrix); every pixel takes its most probable cluster. Clusters are global,
    as with :class:`KMeansGuidance`: after the propagation a pixel's label depends mostly
    on its colour, the spatial constraint acting through the memberships and the centres.

    Its cost per image and its quality as a guide are measured by
    ``OMP_NUM_THREADS=1 python benchmarks/bench_family.py``.

    Parameters
    ----------
    n_clusters : int, default=8
        Number of fuzzy clusters (fewer if the image has fewer distinct colours).
    m : float, default=2
        Fuzzifier, > 1; larger gives fuzzier memberships.
    spatial_weight : float, default=1
        Exponent of the 3×3 neighbourhood sums in the spatial memberships; 0 is plain FCM.
    sigma : float or None, default=10
        Width of the Gaussian colour affinity, in colour units (Lab, or RGB scaled to
        [0, 255]); None skips the propagation.
    colour_space : {"lab", "rgb"}, default="lab"
        Space of the colours clustered and compared.
    max_iter : int, default=100
        Most fuzzy c-means iterations.
    tol : float, default=1e-2
        Stop when no membership changes by more than this over one iteration.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial centres (k-means++); None takes the seed the segmenter passes.

    See Also
    --------
    KMeansGuidance : Hard colour clusters.

    References
    ----------
    .. [1] K.-S. Chuang et al. "Fuzzy c-means clustering with spatial information for image
       segmentation." Computerized Medical Imaging and Graphics 30(1), 2006.
    .. [2] J. Chen, S. Paris, F. Durand. "Real-time edge-aware image processing with the
       bilateral grid." ACM SIGGRAPH 2007.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.zeros((20, 20, 3)); image[:, 10:] = 1.0
    >>> int(FCMGuidance(n_clusters=2, random_state=0)(image).max()) + 1
    2
    """

    def __init__(self, n_clusters=8, m=2.0, spatial_weight=1.0, sigma=10.0, colour_space="lab",
                 max_iter=100, tol=1e-2, random_state=None):
        self.n_clusters = n_clusters
        self.m = m
        self.spatial_weight = spatial_weight
        self.sigma = sigma
        self.colour_space = colour_space
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state

    def segment(self, image, random_state=None):
        n_clusters = check_scalar_int(self.n_clusters, "n_clusters", min_value=1)
        m = check_scalar_float(self.m, "m", min_value=1.0, strict=True)
        spatial_weight = check_scalar_float(self.spatial_weight, "spatial_weight", min_value=0)
        sigma = check_scalar_float(self.sigma, "sigma", min_value=0, strict=True, allow_none=True)
        max_iter = check_scalar_int(self.max_iter, "max_iter", min_value=1)
        tol = check_scalar_float(self.tol, "tol", min_value=0)
        if self.colour_space not in ("lab", "rgb"):
            raise ValueError(f"colour_space must be 'lab' or 'rgb', got {self.colour_space!r}")
        seed = self.random_state if self.random_state is not None else random_state

        colours = rgb2lab(image) if self.colour_space == "lab" else image * 255.0
        memberships, _, _ = spatial_fcm(colours, n_clusters, m=m, spatial_weight=spatial_weight,
                                        max_iter=max_iter, tol=tol, random_state=seed)
        height, width, k = memberships.shape
        memberships = memberships.reshape(-1, k)
        if sigma is not None:
            memberships = colour_propagate(memberships, colours.reshape(-1, 3), sigma)
        return relabel_consecutive(memberships.argmax(axis=1).reshape(height, width))
