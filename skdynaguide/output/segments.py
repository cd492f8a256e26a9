"""Connected segments of a minimum size from a label map of clusters.

A clustering (k-means on colours, the network's argmax) labels *classes*: one class may
cover many disconnected places, and noise leaves specks of one or a few pixels.
:func:`merge_small_segments` turns such a map into connected segments, each at least
``min_size`` pixels, in the spirit of the ``min_size`` post-pass of
:func:`skimage.segmentation.felzenszwalb`: every component that is too small joins its
adjacent component of the most similar mean colour, smallest first.
"""
from __future__ import annotations

import heapq

import numpy as np
from skimage.color import rgb2lab

from .._image import (adjacent_pairs, check_image, check_label_map, relabel_connected,
                      relabel_raster_order, size_in_pixels)

__all__ = ["merge_small_segments", "merge_small_pieces", "output_segments"]


def merge_small_segments(image, labels, min_size, *, connectivity=1):
    """Split a label map into connected segments and merge the small ones.

    The labels are first split into their connected components (regions of equal value),
    so one class that covers several places gives several segments. Then, smallest first,
    every component of fewer than ``min_size`` pixels is merged into the adjacent component
    whose mean colour is closest (Euclidean distance in CIE Lab, where distances follow
    perceived colour differences better than in RGB); the merged region's size and mean
    colour are updated before the next merge, until no component is below ``min_size``.

    Parameters
    ----------
    image : array-like of shape (H, W), (H, W, 1) or (H, W, 3)
        Grey or RGB image whose colours decide the merges; ``uint8``, ``uint16`` or float in
        ``[0, 1]``.
    labels : array-like of shape (H, W)
        Integer label map (cluster ids); any values, they need not be consecutive.
    min_size : int or float
        Smallest segment size in the result. An int is a number of pixels (0 or 1 only
        splits the labels into connected components); a float in ``(0, 1)`` is a fraction
        of the image area, rounded up to whole pixels, so that one setting serves images of
        any size. If it exceeds the image area, the whole image becomes one segment.
    connectivity : {1, 2}, default=1
        Which pixels touch: 1 for the 4-neighbourhood (edges), 2 for the 8-neighbourhood
        (edges and corners). It decides both what is connected and what is adjacent.

    Returns
    -------
    segments : ndarray of shape (H, W), dtype int64
        Consecutive segment ids ``0..k-1``, numbered in the order in which the segments'
        first pixels appear in row-major order. New array; the inputs are not modified.

    Raises
    ------
    TypeError
        If ``labels`` is not an integer map, ``min_size`` is not a number, or the image has
        an unsupported dtype.
    ValueError
        If ``labels`` is not 2-D or its shape differs from the image's ``(H, W)``, if
        ``min_size`` is negative or a float outside ``(0, 1)``, if ``connectivity`` is not 1
        or 2, or if the image is malformed (wrong number of dimensions or channels, NaN or
        infinite values, floats outside ``[0, 1]``).

    See Also
    --------
    skdynaguide.metrics.relabel_connected : The connected components alone.
    skimage.segmentation.felzenszwalb : Graph-based segmentation with a ``min_size`` pass.

    Notes
    -----
    The components and their adjacency come from one pass over the image (the pairs of
    touching pixels with different component ids, made unique with :func:`numpy.unique`);
    the merges then run on this region adjacency graph with a priority queue of small
    components, so the cost grows with the number of components and their neighbours, not
    with the number of pixels. Ties in size and in colour distance are broken by component
    id, so the result is deterministic.

    Examples
    --------
    Two classes in a checkerboard of four blocks are four connected segments; a one-pixel
    speck of the wrong class joins the block around it:

    >>> import numpy as np
    >>> image = np.zeros((4, 4), dtype=np.uint8)
    >>> image[:2, 2:] = image[2:, :2] = 255
    >>> labels = (image > 0).astype(int)
    >>> labels[0, 0] = 1
    >>> merge_small_segments(image, labels, min_size=1)
    array([[0, 1, 2, 2],
           [1, 1, 2, 2],
           [3, 3, 4, 4],
           [3, 3, 4, 4]])
    >>> merge_small_segments(image, labels, min_size=2)
    array([[0, 0, 1, 1],
           [0, 0, 1, 1],
           [2, 2, 3, 3],
           [2, 2, 3, 3]])
    """
    rgb = check_image(image)
    height, width = rgb.shape[:2]
    label_map = check_label_map(labels, shape=(height, width))
    if isinstance(connectivity, bool) or connectivity not in (1, 2):
        raise ValueError(
            f"connectivity must be 1 (4-neighbourhood) or 2 (8-neighbourhood), "
            f"got {connectivity!r}"
        )
    min_pixels = size_in_pixels(min_size, height * width)

    components = relabel_connected(label_map, connectivity=connectivity)
    n_components = int(components.max()) + 1
    if min_pixels > 1 and n_components > 1:
        lab = rgb2lab(rgb).reshape(-1, 3)
        roots = _merge_small(components, lab, min_pixels, connectivity)
        components = roots[components]
    return relabel_raster_order(components)


def merge_small_pieces(image, labels, min_size, *, connectivity=1):
    """Clean a class map: small connected pieces take the class of the neighbour they join.

    :func:`merge_small_segments` merges the small connected pieces of ``labels``; each
    resulting segment then takes the label that covers most of its pixels. Unlike
    :func:`merge_small_segments`, the result keeps the label *values* (classes whose ids
    mean the same thing across images stay so), and one label may still cover several
    separate places.

    Parameters
    ----------
    image : array-like of shape (H, W), (H, W, 1) or (H, W, 3)
        Grey or RGB image whose colours decide the merges.
    labels : array-like of shape (H, W)
        Integer class map.
    min_size : int or float
        Smallest connected piece kept, in pixels (int) or as a fraction of the image area
        (float in ``(0, 1)``); see :func:`merge_small_segments`.
    connectivity : {1, 2}, default=1
        4- or 8-neighbourhood.

    Returns
    -------
    labels : ndarray of shape (H, W), dtype int64
        New array, with values taken from ``labels``.

    See Also
    --------
    merge_small_segments : The same merges, returning connected segments.

    Examples
    --------
    A one-pixel speck of class 7 inside class 3 takes class 3:

    >>> import numpy as np
    >>> image = np.zeros((3, 4), dtype=np.uint8); image[:, 2:] = 255
    >>> labels = np.array([[3, 3, 9, 9], [3, 7, 9, 9], [3, 3, 9, 9]])
    >>> merge_small_pieces(image, labels, min_size=2)
    array([[3, 3, 9, 9],
           [3, 3, 9, 9],
           [3, 3, 9, 9]])
    """
    segments = merge_small_segments(image, labels, min_size, connectivity=connectivity)
    values, inverse = np.unique(np.asarray(labels), return_inverse=True)
    n_segments = int(segments.max()) + 1
    counts = np.bincount(segments.ravel() * len(values) + inverse.ravel(),
                         minlength=n_segments * len(values)).reshape(n_segments, len(values))
    return values.astype(np.int64)[counts.argmax(1)][segments]


def output_segments(image, clusters, guide=None, *, min_size=0.0005, snap=2,
                    keep_edges=0.9):
    """What :class:`~skdynaguide.DynaGuideSegmenter` returns for an image's clusters.

    The output pipeline (:mod:`skdynaguide.output.pipeline`) after its first step, applied
    to ``clusters``.

    The clusters become connected segments of ``min_size``
    (:func:`merge_small_segments`); then, with ``snap``, their boundaries are drawn from
    the guide's moved onto the image's edges
    (:func:`~skdynaguide.output.snapping.redraw_boundaries`; the strong edges of the image
    between guide regions are kept, ``keep_edges``), or without a guide are themselves
    moved onto them (:func:`~skdynaguide.output.snapping.snap_to_edges`), and the segments are
    made connected and of ``min_size`` again. It lets the output of a fitted segmenter be
    redrawn with other ``min_size``, ``snap`` or ``keep_edges`` values without training
    again.

    Parameters
    ----------
    image : array-like of shape (H, W), (H, W, 1) or (H, W, 3)
        The image the clusters were computed on.
    clusters : array-like of shape (H, W)
        Integer label map, e.g. a fitted segmenter's ``clusters_``.
    guide : array-like of shape (H, W) or None, default=None
        The guidance map (``guidance_labels_``), or None.
    min_size : int, float or None, default=0.0005
        As the segmenter's ``min_size``; None keeps the cluster labels.
    snap : int or None, default=2
        As the segmenter's ``snap``; None or 0 keeps the clusters' boundaries.
    keep_edges : float in (0, 1] or None, default=0.9
        As the segmenter's ``keep_edges``; used only when ``snap`` redraws from a guide.

    Returns
    -------
    labels : ndarray of shape (H, W), dtype int64
        Consecutive labels ``0..k-1`` once snapped or made into segments; otherwise the
        clusters' own values.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.zeros((4, 10), dtype=np.uint8); image[:, 4:] = 255
    >>> clusters = np.repeat([[0] * 5 + [1] * 5], 4, axis=0)
    >>> guide = np.repeat([[0] * 6 + [1] * 4], 4, axis=0)
    >>> output_segments(image, clusters, guide, min_size=0, snap=2)[0].tolist()
    [0, 0, 0, 0, 1, 1, 1, 1, 1, 1]
    >>> output_segments(image, clusters, guide, min_size=0, snap=None)[0].tolist()
    [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]
    """
    from .pipeline import OutputContext, output_steps, run_steps

    context = OutputContext(image=check_image(image),
                            guide=None if guide is None else check_label_map(guide, name="guide"))
    steps = output_steps(min_size=min_size, snap=snap, keep_edges=keep_edges)
    return run_steps(steps, check_label_map(clusters, shape=context.image.shape[:2]), context)


def _merge_small(components, lab, min_pixels, connectivity):
    """Root component of every component once all small ones are merged (union-find)."""
    n_components = int(components.max()) + 1
    flat = components.ravel()
    sizes = np.bincount(flat, minlength=n_components)
    means = np.stack([np.bincount(flat, weights=lab[:, c], minlength=n_components)
                      for c in range(3)], axis=1) / sizes[:, None]

    # Each component's neighbours as one slice of the pairs sorted by their first member.
    first, second = adjacent_pairs(components, n_components, connectivity)
    source = np.concatenate([first, second])
    order = np.argsort(source, kind="stable")
    others = np.concatenate([second, first])[order].tolist()
    bounds = np.searchsorted(source[order], np.arange(n_components + 1)).tolist()

    # The loop below runs once per merge, not per pixel; plain Python lists and sets are
    # faster than numpy calls on the handful of neighbours each small component has.
    neighbours = [set(others[bounds[i]:bounds[i + 1]]) for i in range(n_components)]
    size = sizes.tolist()
    mean = [tuple(row) for row in means.tolist()]
    parent = list(range(n_components))

    heap = [(s, i) for i, s in enumerate(size) if s < min_pixels]
    heapq.heapify(heap)
    while heap:
        small_size, small = heapq.heappop(heap)
        if parent[small] != small or small_size != size[small]:
            continue  # merged away, or an outdated entry of a region that has grown since
        if not neighbours[small]:
            continue  # the whole image is this one segment
        l0, a0, b0 = mean[small]
        target = min(neighbours[small], key=lambda j: (
            (mean[j][0] - l0) ** 2 + (mean[j][1] - a0) ** 2 + (mean[j][2] - b0) ** 2, j))

        # Merge ``small`` into ``target``: the target keeps its id, takes over the size,
        # colour and neighbours, and every neighbour now points to the target.
        parent[small] = target
        target_size = size[target]
        merged_size = size[target] = target_size + small_size
        mean[target] = tuple((t * target_size + m * small_size) / merged_size
                             for t, m in zip(mean[target], mean[small]))
        target_neighbours = neighbours[target]
        for j in neighbours[small]:
            neighbours[j].discard(small)
            if j != target:
                neighbours[j].add(target)
                target_neighbours.add(j)
        neighbours[small] = set()
        if merged_size < min_pixels:
            heapq.heappush(heap, (merged_size, target))

    # Every merged component points to one that was alive at its merge; pointer jumping
    # halves the length of every chain per step until all point to their root.
    parent = np.asarray(parent)
    while True:
        grand = parent[parent]
        if np.array_equal(grand, parent):
            return parent
        parent = grand
