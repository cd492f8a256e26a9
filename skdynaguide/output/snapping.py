"""Moving the boundaries of a label map onto the image's edges.

A segmentation learnt on a shrunk image, or given on a coarse grid (SegFormer's 1/4,
DiffSeg's 1/8), has its regions right and its boundaries a few pixels off.
:func:`snap_to_edges` keeps every region's interior, frees a band of ``band`` pixels on
each side of every boundary, and floods the band from the interiors over the image's
colour gradient (a marker-controlled watershed, :func:`skimage.segmentation.watershed`):
the fronts of two regions meet where the colour changes most, so each boundary moves to
the strongest edge within ``band`` pixels of where it was. :func:`redraw_boundaries` uses
it to give a refinement the boundaries of its guide, snapped, while keeping its grouping
of the guide's regions, except across the image's strongest edges (``keep_edges``).
"""
from __future__ import annotations

import numbers

import numpy as np
from scipy import ndimage as ndi
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from skimage.color import rgb2lab
from skimage.filters import sobel
from skimage.segmentation import watershed

from .._image import check_image, check_label_map, relabel_connected

__all__ = ["snap_to_edges", "redraw_boundaries", "colour_gradient"]


def snap_to_edges(image, labels, band, *, sigma=1.0, edges=None):
    """Move every boundary of ``labels`` onto the strongest image edge within ``band`` pixels.

    The pixels within ``band`` pixels of a boundary (on either side, a band ``2·band``
    wide across it) are taken away from their regions; the rest of each region is kept and
    grows back over the freed pixels by a watershed of the colour gradient
    (:func:`colour_gradient`), so two regions meet on the strongest edge between them. A
    connected piece with no pixel outside the band (thinner than ``2·band``) keeps all of
    its pixels as they were and may still grow. Every label of ``labels`` is kept, and no
    pixel moves farther than ``band`` pixels from the boundary it belonged to.

    Parameters
    ----------
    image : array-like of shape (H, W), (H, W, 1) or (H, W, 3)
        Grey or RGB image whose edges the boundaries move onto; ``uint8``, ``uint16`` or
        float in ``[0, 1]``.
    labels : array-like of shape (H, W)
        Integer label map: segments or classes (a class that covers several places snaps
        in each of them).
    band : int
        How far, in pixels, a boundary may move; 0 returns the labels unchanged.
    sigma : float, default=1.0
        Standard deviation, in pixels, of the Gaussian smoothing of the image before its
        gradient is taken (0: none); it keeps single noisy pixels from passing for edges.
    edges : array-like of shape (H, W), optional
        The image's edge strength to flood instead of its colour gradient (e.g. a boundary
        probability map); ``sigma`` is then unused.

    Returns
    -------
    snapped : ndarray of shape (H, W), dtype int64
        New array with the label values of ``labels``; the inputs are not modified.

    Raises
    ------
    TypeError
        If ``labels`` is not an integer map, ``band`` is not an int or ``sigma`` is not a
        number.
    ValueError
        If ``band`` or ``sigma`` is negative, if ``labels`` is not 2-D or its shape differs
        from the image's, or if the image is malformed (see
        :func:`skdynaguide._image.check_image`).

    See Also
    --------
    skdynaguide.output.segments.merge_small_segments : Connected segments of a minimum size.
    skimage.segmentation.watershed : The flooding used here.

    Notes
    -----
    This is a classical way of sharpening a coarse mask; ``benchmarks/bench_refine.py
    --snaps`` compares it with the network's own boundaries on coarse guides.

    Examples
    --------
    An edge between dark and bright columns 2 and 3; the labels put it one column too
    far right and are snapped back onto it:

    >>> import numpy as np
    >>> image = np.zeros((4, 8), dtype=np.uint8); image[:, 3:] = 255
    >>> labels = np.zeros((4, 8), dtype=int); labels[:, 4:] = 1
    >>> snap_to_edges(image, labels, band=2, sigma=0)[0].tolist()
    [0, 0, 0, 1, 1, 1, 1, 1]
    """
    rgb = check_image(image)
    label_map = check_label_map(labels, shape=rgb.shape[:2])
    _check_band(band)
    if band == 0 or label_map.min() == label_map.max():
        return label_map
    return _snap(label_map, band, _edge_map(rgb, sigma, edges))


def _edge_map(rgb, sigma, edges):
    """``edges`` checked against the image, or the image's colour gradient."""
    if edges is None:
        return colour_gradient(rgb, sigma=sigma)
    edges = np.asarray(edges)
    if edges.shape != rgb.shape[:2]:
        raise ValueError(f"edges must have the image's shape {rgb.shape[:2]}, got {edges.shape}")
    if not np.issubdtype(edges.dtype, np.number) or not np.isfinite(edges).all():
        raise ValueError("edges must be a finite numeric map")
    return edges


def _check_band(band):
    if isinstance(band, bool) or not isinstance(band, numbers.Integral):
        raise TypeError(f"band must be a whole number of pixels (int), got {band!r}")
    if band < 0:
        raise ValueError(f"band must be >= 0 pixels, got {band}")


def _snap(label_map, band, gradient):
    """:func:`snap_to_edges` on checked arguments, with the image's gradient given."""
    if band == 0 or label_map.min() == label_map.max():
        return label_map
    # distance of every pixel to the nearest pixel that has a differently labelled
    # 4-neighbour: 0 on both sides of each crack, 1 one pixel further, ...
    edge = np.zeros(label_map.shape, dtype=bool)
    across = label_map[:, 1:] != label_map[:, :-1]
    edge[:, 1:] |= across
    edge[:, :-1] |= across
    down = label_map[1:] != label_map[:-1]
    edge[1:] |= down
    edge[:-1] |= down
    free = ndi.distance_transform_edt(~edge) < band

    values, ids = np.unique(label_map, return_inverse=True)
    ids = ids.reshape(label_map.shape)
    markers = np.where(free, 0, ids + 1)
    # a connected piece with nothing left outside the band keeps all of its pixels
    pieces = relabel_connected(label_map)
    kept = np.bincount(pieces[~free], minlength=int(pieces.max()) + 1)
    lost = kept[pieces] == 0
    markers[lost] = ids[lost] + 1
    snapped = watershed(gradient, markers, connectivity=1)
    return values[snapped - 1].astype(np.int64)


def redraw_boundaries(image, segments, guide, band, *, sigma=1.0, keep_edges=None,
                      edges=None):
    """Segments whose boundaries are those of ``guide``, snapped onto the image's edges.

    ``guide`` is snapped (:func:`snap_to_edges`) and split into connected pieces; every
    piece then takes the label of the segment of ``segments`` that covers most of it. So
    the segments decide which of the guide's regions belong together, and the snapped
    guide decides where each region ends: a boundary of ``segments`` that no guide
    boundary follows disappears, and one the guide draws between two pieces of one
    segment is dropped too.

    With ``keep_edges``, two adjacent pieces that one segment covers stay apart where the
    image has a strong edge between them: where the mean colour gradient
    (:func:`colour_gradient`) along their shared boundary is at least the ``keep_edges``
    quantile of the image's gradient values (and not zero: where the colour does not
    change there is no edge, whatever the quantile). The segments are trusted with merges
    across weak boundaries only; a segment that spans a strong edge of the image is split
    along it.

    This is how :class:`~skdynaguide.DynaGuideSegmenter` draws its output boundaries
    (``snap``): its network is trained on a shrunk image and moves a coarse guide's
    boundaries less accurately than the watershed does (``benchmarks/bench_refine.py``).

    Parameters
    ----------
    image : array-like of shape (H, W), (H, W, 1) or (H, W, 3)
        Grey or RGB image; ``uint8``, ``uint16`` or float in ``[0, 1]``.
    segments : array-like of shape (H, W)
        Integer label map whose grouping is kept (the network's segments or clusters).
    guide : array-like of shape (H, W)
        Integer label map whose boundaries are kept, snapped.
    band : int
        How far, in pixels, the guide's boundaries may move (0: as they are).
    sigma : float, default=1.0
        Smoothing of the image before its gradient is taken (:func:`snap_to_edges`).
    keep_edges : float in (0, 1] or None, default=None
        Quantile of the image's colour gradient from which a boundary between two pieces
        of the snapped guide is kept even where one segment covers both (0.9: the
        strongest tenth of the image's gradient values). None keeps no boundary the
        segments drop.
    edges : array-like of shape (H, W), optional
        The image's edge strength, used for the snapping and the kept edges instead of its
        colour gradient (e.g. a boundary probability map); ``sigma`` is then unused.

    Returns
    -------
    labels : ndarray of shape (H, W), dtype int64
        New array. With ``keep_edges=None`` its label values are taken from ``segments``
        (one label may cover several separate places if ``segments`` does); otherwise it
        holds connected segments numbered ``0..k-1``, since a segment split by a kept edge
        becomes several.

    Raises
    ------
    TypeError, ValueError
        As :func:`snap_to_edges`, for either label map.

    Examples
    --------
    An edge between columns 3 and 4; a guide drawn on a 6-px grid, and segments that
    merged its two right-hand regions but put their boundary one column off:

    >>> import numpy as np
    >>> image = np.zeros((4, 18), dtype=np.uint8); image[:, 4:] = 255
    >>> guide = np.repeat([[0] * 6 + [1] * 6 + [2] * 6], 4, axis=0)
    >>> segments = np.repeat([[3] * 5 + [8] * 13], 4, axis=0)
    >>> redraw_boundaries(image, segments, guide, band=2, sigma=0)[0].tolist()
    [3, 3, 3, 3, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8]

    The right-hand third made light grey, and one segment over everything: the weak edge
    between white and light grey is dropped, the strong one between black and white is
    kept:

    >>> image[:, 12:] = 200
    >>> segments = np.full((4, 18), 8)
    >>> redraw_boundaries(image, segments, guide, band=2, sigma=0, keep_edges=0.9)[0].tolist()
    [0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]
    """
    rgb = check_image(image)
    shape = rgb.shape[:2]
    grouping = check_label_map(segments, shape=shape, name="segments")
    guide_map = check_label_map(guide, shape=shape, name="guide")
    if keep_edges is not None:
        if isinstance(keep_edges, bool) or not isinstance(keep_edges, numbers.Real):
            raise TypeError(f"keep_edges must be a quantile in (0, 1] or None, got {keep_edges!r}")
        if not 0.0 < keep_edges <= 1.0:
            raise ValueError(f"keep_edges must be a quantile in (0, 1], got {keep_edges!r}")
    _check_band(band)
    gradient = _edge_map(rgb, sigma, edges)  # one edge map for the snapping and the kept edges
    pieces = relabel_connected(_snap(guide_map, band, gradient))
    values, ids = np.unique(grouping, return_inverse=True)
    n_pieces = int(pieces.max()) + 1
    counts = np.bincount(pieces.ravel() * len(values) + ids.ravel(),
                         minlength=n_pieces * len(values)).reshape(n_pieces, len(values))
    majority = counts.argmax(1)
    if keep_edges is None:
        return values.astype(np.int64)[majority][pieces]

    first, second, strength = _boundary_strength(pieces, n_pieces, gradient)
    strong = (strength >= np.quantile(gradient, keep_edges)) & (strength > 0)  # flat: no edge
    join = (majority[first] == majority[second]) & ~strong
    graph = coo_matrix((np.ones(int(join.sum())), (first[join], second[join])),
                       shape=(n_pieces, n_pieces))
    groups = connected_components(graph, directed=False)[1]
    return relabel_connected(groups[pieces])


def _boundary_strength(pieces, n_pieces, gradient):
    """Adjacent piece pairs ``(a, b)``, ``a < b``, and the mean gradient along their boundary.

    Each pair of 4-neighbours that lie in two pieces adds the larger gradient of the two
    pixels to the boundary of those pieces.
    """
    first = np.concatenate([pieces[:, :-1].ravel(), pieces[:-1].ravel()])
    second = np.concatenate([pieces[:, 1:].ravel(), pieces[1:].ravel()])
    strength = np.concatenate([np.maximum(gradient[:, :-1], gradient[:, 1:]).ravel(),
                               np.maximum(gradient[:-1], gradient[1:]).ravel()])
    differ = first != second
    low = np.minimum(first[differ], second[differ])
    high = np.maximum(first[differ], second[differ])
    keys, inverse = np.unique(low * n_pieces + high, return_inverse=True)
    mean = np.bincount(inverse, weights=strength[differ]) / np.bincount(inverse)
    return keys // n_pieces, keys % n_pieces, mean


def colour_gradient(image, *, sigma=1.0):
    """Magnitude of the colour gradient of an image, in CIE Lab units.

    Sobel derivatives of the L, a and b channels (after Gaussian smoothing of standard
    deviation ``sigma`` pixels), combined as the root of their summed squares, so that an
    edge of colour counts as much as an edge of lightness of the same perceived size.

    Parameters
    ----------
    image : array-like of shape (H, W), (H, W, 1) or (H, W, 3)
        Grey or RGB image; ``uint8``, ``uint16`` or float in ``[0, 1]``.
    sigma : float, default=1.0
        Smoothing before differentiation, in pixels; 0 for none.

    Returns
    -------
    gradient : ndarray of shape (H, W), dtype float64

    Examples
    --------
    >>> import numpy as np
    >>> image = np.zeros((3, 4), dtype=np.uint8); image[:, 2:] = 255
    >>> colour_gradient(image, sigma=0).argmax(axis=1).tolist()
    [1, 1, 1]
    """
    rgb = check_image(image)
    if isinstance(sigma, bool) or not isinstance(sigma, numbers.Real):
        raise TypeError(f"sigma must be a number of pixels, got {sigma!r}")
    if not sigma >= 0:
        raise ValueError(f"sigma must be >= 0 pixels, got {sigma!r}")
    lab = rgb2lab(rgb)
    if sigma > 0:
        lab = ndi.gaussian_filter(lab, sigma=(sigma, sigma, 0))
    return np.sqrt(sum(sobel(lab[..., c]) ** 2 for c in range(3)))
