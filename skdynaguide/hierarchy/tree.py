"""A hierarchy of regions of one image, built from its boundary map, and its cuts.

The finest regions are the catchment basins of the boundary map (watershed superpixels);
they merge in order of the strength of the boundary between them, up to the whole image.
Every horizontal cut of the tree is a segmentation: a high threshold keeps only strong
boundaries (few, large regions), a low one keeps weak ones too. The tree is stored as plain
arrays (the superpixel map, the parent of every node, the altitude at which every node
merges) so that a fitted estimator pickles without higra objects, and cuts are recomputed
at any granularity without retraining (:meth:`BoundaryHierarchy.cut`).

Two constructions (``method``), both with higra:

- ``"dynamics"``: the watershed hierarchy by dynamics (Najman & Schmitt; Cousty & Najman):
  a region's boundary is as strong as the depth of the shallower of the two basins it
  separates, so faint closed contours around deep basins survive;
- ``"mean"``: the mean-boundary hierarchy of gPb-owt-ucm (Arbeláez et al., 2011): adjacent
  regions merge in order of the mean boundary probability along their common border.
"""
from __future__ import annotations

import numpy as np

from .._image import adjacent_pairs, check_scalar_float, check_scalar_int, relabel_raster_order

__all__ = ["BoundaryHierarchy", "METHODS", "region_adjacency"]

METHODS = ("dynamics", "mean")


def _higra():
    try:
        import higra
    except ImportError as exc:  # pragma: no cover - higra is a dependency
        raise ImportError("boundary hierarchies need higra: pip install higra") from exc
    return higra


def region_adjacency(regions):
    """The adjacent pairs of a label map ``0..n-1``, ``(sources, targets)``, sources < targets.

    Examples
    --------
    >>> import numpy as np
    >>> from skdynaguide.hierarchy import region_adjacency
    >>> region_adjacency(np.array([[0, 0, 1], [2, 2, 1]]))
    (array([0, 0, 1]), array([1, 2, 2]))
    """
    regions = np.asarray(regions, dtype=np.int64)
    return adjacent_pairs(regions, int(regions.max(initial=0)) + 1)


class BoundaryHierarchy:
    """Regions of one image nested from its superpixels up to the whole image.

    Build one with :meth:`from_boundaries` (or
    :func:`~skdynaguide.hierarchy.build_hierarchy` from an image); cut it with :meth:`cut`.

    Parameters
    ----------
    regions : ndarray of shape (H, W), int
        The leaves: superpixels numbered ``0..n-1``.
    parents : ndarray of shape (n_nodes,), int
        The parent of every node of a tree whose first ``n`` nodes are the leaves (higra's
        convention: the root is its own parent and every parent comes after its children).
    altitudes : ndarray of shape (n_nodes,), float
        The boundary strength at which every node's children merge (0 for the leaves),
        non-decreasing towards the root.

    Attributes
    ----------
    n_regions : int
        The number of leaves.

    Examples
    --------
    >>> import numpy as np
    >>> from skdynaguide.hierarchy import BoundaryHierarchy
    >>> prob = np.zeros((20, 30), np.float32)
    >>> prob[:, 10] = 0.9; prob[:, 20] = 0.3          # a strong and a weak boundary
    >>> tree = BoundaryHierarchy.from_boundaries(prob, method="mean")
    >>> [int(tree.cut(threshold=t).max()) + 1 for t in (0.1, 0.3, 0.5)]
    [3, 2, 1]
    >>> int(tree.cut(n_segments=2)[0, 25])
    1
    """

    def __init__(self, regions, parents, altitudes):
        self.regions = np.asarray(regions, dtype=np.int32)
        self.parents = np.asarray(parents, dtype=np.int64)
        self.altitudes = np.asarray(altitudes, dtype=np.float64)
        if self.parents.shape != self.altitudes.shape:
            raise ValueError("parents and altitudes must have one entry per node")
        self.n_regions = int(self.regions.max()) + 1 if self.regions.size else 0
        if self.n_regions > len(self.parents):
            raise ValueError("the tree has fewer nodes than the map has regions")

    # -- construction -------------------------------------------------------------------

    @classmethod
    def from_boundaries(cls, prob, *, method="dynamics", min_area=0):
        """The hierarchy of a boundary map.

        Parameters
        ----------
        prob : array-like of shape (H, W)
            Boundary strength in [0, 1], smooth (not thinned: the watershed needs basins).
        method : {"dynamics", "mean"}, default="dynamics"
            How regions merge (see the module's description).
        min_area : int, default=0
            Regions smaller than this many pixels are merged into a neighbour at every
            level (higra's ``filter_small_nodes_from_tree``).

        Returns
        -------
        hierarchy : BoundaryHierarchy
        """
        hg = _higra()
        prob = np.asarray(prob, dtype=np.float64)
        if prob.ndim != 2 or prob.size == 0:
            raise ValueError(f"prob must be a non-empty 2-D map, got shape {prob.shape}")
        if not np.isfinite(prob).all():
            raise ValueError("prob holds NaN or infinite values")
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        min_area = check_scalar_int(min_area, "min_area", min_value=0)
        shape = prob.shape
        graph = hg.get_4_adjacency_graph(shape)
        weights = hg.weight_graph(graph, prob, hg.WeightFunction.mean)
        if method == "mean":
            tree, altitudes = hg.mean_pb_hierarchy(graph, weights, shape)
            rag = hg.CptHierarchy.get_leaf_graph(tree)
            regions = hg.CptRegionAdjacencyGraph.get_vertex_map(rag).reshape(shape)
        else:
            tree, altitudes = hg.watershed_hierarchy_by_dynamics(graph, weights)
            basins = hg.labelisation_horizontal_cut_from_threshold(tree, altitudes, 0)
            # the same hierarchy on the basins: single linkage on its ultrametric distances
            saliency = hg.saliency(tree, altitudes, graph)
            rag = hg.make_region_adjacency_graph_from_labelisation(graph, basins)
            regions = hg.CptRegionAdjacencyGraph.get_vertex_map(rag)
            rag_weights = hg.rag_accumulate_on_edges(rag, hg.Accumulators.max, saliency)
            tree, altitudes = hg.bpt_canonical(rag, rag_weights)
        regions = np.asarray(regions).reshape(shape)
        graph, _, _ = _superpixel_graph(hg, regions, tree.num_leaves())
        tree, altitudes = _filter_small(hg, tree, altitudes, regions, graph, min_area)
        return cls(regions, tree.parents(), altitudes)

    # -- cuts -----------------------------------------------------------------------------

    def _tree(self):
        return _higra().Tree(self.parents)

    def cut(self, threshold=None, n_segments=None):
        """The segmentation that keeps the boundaries stronger than ``threshold``.

        Parameters
        ----------
        threshold : float or None
            Regions whose boundary is at most this strong merge.
        n_segments : int or None
            Instead of a threshold: the cut with this many regions (the nearest the tree
            has at or above it; fewer when the image has fewer superpixels).

        Returns
        -------
        labels : ndarray of shape (H, W), int64
            Labels ``0..k-1`` numbered in raster order of each region's first pixel.
        """
        hg = _higra()
        if (threshold is None) == (n_segments is None):
            raise ValueError("give exactly one of threshold and n_segments")
        tree = self._tree()
        explorer = hg.HorizontalCutExplorer(tree, self.altitudes)
        if n_segments is not None:
            n_segments = check_scalar_int(n_segments, "n_segments", min_value=1)
            cut = explorer.horizontal_cut_from_num_regions(min(n_segments, self.n_regions))
        else:
            threshold = check_scalar_float(threshold, "threshold")
            cut = explorer.horizontal_cut_from_altitude(threshold)
        leaf_labels = np.asarray(cut.labelisation_leaves(tree, hg.UndirectedGraph(self.n_regions)))
        return relabel_raster_order(leaf_labels[self.regions])

    def edge_strengths(self):
        """``(sources, targets, strength)`` of adjacent superpixels: the altitude at which
        they merge (the ultrametric contour map on the superpixel adjacency)."""
        hg = _higra()
        graph, sources, targets = _superpixel_graph(hg, self.regions, self.n_regions)
        return sources, targets, np.asarray(hg.saliency(self._tree(), self.altitudes, graph))

    def ucm(self):
        """The ultrametric contour map: at every pixel the strength of the strongest
        boundary of the hierarchy it touches (0 inside the superpixels), shape (H, W)."""
        sources, targets, strength = self.edge_strengths()
        out = np.zeros(self.regions.shape, dtype=np.float64)
        for a, b, sl_a, sl_b in _neighbour_views(self.regions):
            differ = a != b
            lo, hi = np.minimum(a[differ], b[differ]), np.maximum(a[differ], b[differ])
            values = _lookup(sources, targets, strength, lo, hi)
            for sl in (sl_a, sl_b):
                view = out[sl]
                view[differ] = np.maximum(view[differ], values)
        return out

    def reweighted(self, factors, *, min_area=0):
        """A new hierarchy whose superpixel boundaries are scaled by ``factors``.

        Parameters
        ----------
        factors : callable
            ``factors(sources, targets) -> array``: one positive factor per adjacent pair
            of superpixels (as :meth:`edge_strengths` lists them).
        min_area : int, default=0
            Small regions merged again, as in :meth:`from_boundaries`.

        Returns
        -------
        hierarchy : BoundaryHierarchy
            On the same superpixels; single linkage on the scaled strengths (factors of 1
            give back this hierarchy's cuts).
        """
        hg = _higra()
        graph, sources, targets = _superpixel_graph(hg, self.regions, self.n_regions)
        strength = np.asarray(hg.saliency(self._tree(), self.altitudes, graph))
        scaled = strength * np.asarray(factors(sources, targets), dtype=np.float64)
        tree, altitudes = hg.bpt_canonical(graph, scaled)
        tree, altitudes = _filter_small(hg, tree, altitudes, self.regions, graph, min_area)
        return BoundaryHierarchy(self.regions, tree.parents(), altitudes)


    def informed_by(self, clusters, weight, *, min_area=0):
        """This hierarchy with its boundaries strengthened where ``clusters`` differ across
        them.

        Every boundary between two superpixels is scaled by
        ``(1 + weight * (1 - 2 s)) / (1 - weight)``, where ``s`` is the chance that a pixel
        of the one and a pixel of the other fall in the same cluster: a boundary inside one
        cluster keeps its strength (``s = 1``), one between two clusters grows up to
        ``(1 + weight) / (1 - weight)`` times (``s = 0``), so regions the clusters tell apart
        merge at a higher level and a cut at a given threshold keeps them apart.
        ``weight=0`` gives this hierarchy back.

        Parameters
        ----------
        clusters : array-like of shape (H, W), int
            Cluster labels of the image's pixels (a network's, or any segmentation).
        weight : float in [0, 1)
            How far the clusters move the boundaries.
        min_area : int, default=0
            Small regions merged again (see :meth:`from_boundaries`).

        Returns
        -------
        hierarchy : BoundaryHierarchy

        Examples
        --------
        >>> import numpy as np
        >>> from skdynaguide.hierarchy import BoundaryHierarchy
        >>> prob = np.zeros((10, 30), np.float32); prob[:, 10] = prob[:, 20] = 0.6
        >>> tree = BoundaryHierarchy.from_boundaries(prob)
        >>> clusters = np.zeros((10, 30), int); clusters[:, 20:] = 1   # left two alike
        >>> left, middle, right = tree.cut(threshold=0.5)[0, [0, 15, 25]]
        >>> bool(left == middle), bool(middle == right)
        (True, True)
        >>> left, middle, right = tree.informed_by(clusters, 0.5).cut(threshold=0.5)[0, [0, 15, 25]]
        >>> bool(left == middle), bool(middle == right)
        (True, False)
        """
        clusters = np.asarray(clusters)
        if clusters.shape != self.regions.shape:
            raise ValueError(f"clusters of shape {clusters.shape} for a hierarchy of shape "
                             f"{self.regions.shape}")
        weight = check_scalar_float(weight, "weight", min_value=0)
        if weight >= 1:
            raise ValueError(f"weight must lie in [0, 1), got {weight}")
        if weight == 0:
            return self
        _, inverse = np.unique(clusters.ravel(), return_inverse=True)
        share = np.zeros((self.n_regions, int(inverse.max()) + 1))
        np.add.at(share, (self.regions.ravel(), inverse), 1.0)
        share /= np.maximum(share.sum(axis=1, keepdims=True), 1.0)

        def factors(sources, targets):
            same = np.einsum("ij,ij->i", share[sources], share[targets])
            return (1.0 + weight * (1.0 - 2.0 * same)) / (1.0 - weight)

        return self.reweighted(factors, min_area=min_area)


def _superpixel_graph(hg, regions, n_regions):
    sources, targets = region_adjacency(regions)
    graph = hg.UndirectedGraph(n_regions)
    graph.add_edges(sources, targets)
    return graph, sources, targets


def _filter_small(hg, tree, altitudes, regions, graph, min_area):
    """Regions under ``min_area`` pixels merge into a neighbour at every level.

    As higra's ``filter_small_nodes_from_tree``, with the superpixels' areas: a node whose
    smaller child is too small no longer splits (its altitude drops to 0), and the tree is
    rebuilt from the resulting ultrametric distances.
    """
    if min_area <= 0:
        return tree, altitudes
    leaf_area = np.bincount(regions.ravel(), minlength=tree.num_leaves()).astype(np.float64)
    area = hg.accumulate_sequential(tree, leaf_area, hg.Accumulators.sum)
    smaller_child = hg.accumulate_parallel(tree, area, hg.Accumulators.min)
    kept = np.array(altitudes, dtype=np.float64)
    kept[tree.num_leaves():][smaller_child[tree.num_leaves():] < min_area] = 0.0
    return hg.bpt_canonical(graph, hg.saliency(tree, kept, graph))


def _neighbour_views(regions):
    """Pairs of shifted views of ``regions`` (right and down neighbours) and the slices of
    the two pixels of each pair."""
    yield (regions[:, :-1], regions[:, 1:], (slice(None), slice(None, -1)),
           (slice(None), slice(1, None)))
    yield (regions[:-1], regions[1:], (slice(None, -1), slice(None)),
           (slice(1, None), slice(None)))


def _lookup(sources, targets, values, lo, hi):
    """``values`` of the pairs ``(lo, hi)`` in the sorted pair list ``(sources, targets)``."""
    n = int(max(sources.max(initial=0), targets.max(initial=0))) + 1
    keys = sources * n + targets
    index = np.searchsorted(keys, lo.astype(np.int64) * n + hi)
    return values[index]
