"""The BSDS boundary benchmark: soft boundary maps scored by ODS, OIS and AP.

After Martin, Fowlkes and Malik (2004) and the BSDS500 benchmark code of Arbeláez et al.
(2011). A boundary probability map is binarised at many thresholds; each binary map is
thinned and its pixels are matched one-to-one to the boundary pixels of each human
annotation within a tolerance of ``0.0075 ×`` the image diagonal. A predicted pixel counts
as correct when it matches a pixel of *any* annotation; recall is pooled over annotations.
An annotation's boundary pixels are those of BSDS500's ground-truth files: ``seg2bmap`` of
the label map, thinned (:func:`seg_to_boundaries` then thinning).

On the test set that ships with the BSDS500 code, these functions give the MATLAB
benchmark's recall and precision at every threshold to within 0.002
(``benchmarks/check_bsds_benchmark.py``).

The pipeline is plain functions, each one's output the next one's input::

    counts = [boundary_pr_counts(prob, annotations) for prob, annotations in data]
    scores = bsds_ods_ois_ap(counts)

Matching uses a maximum-cardinality bipartite matching (a unit-capacity maximum flow) on
the graph of predicted/ground-truth pixel pairs closer than the tolerance, where the BSDS
code uses a minimum-cost assignment with outlier costs; both count the same pairs when
every close pair can be matched, and the maximum-cardinality count is never lower.
"""
from __future__ import annotations

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_flow
from skimage.morphology import thin as _thin

from .scores import _boundaries

__all__ = [
    "seg_to_boundaries",
    "match_boundaries",
    "boundary_pr_counts",
    "bsds_thresholds",
    "bsds_ods_ois_ap",
]


def seg_to_boundaries(seg):
    """Thin boundary map of a label map, by the BSDS ``seg2bmap`` convention.

    A pixel is a boundary pixel when its label differs from that of its right, lower or
    lower-right neighbour, so a boundary between two regions is one pixel wide and lies on
    the upper/left side of it.

    Parameters
    ----------
    seg : array-like of shape (H, W)
        Integer label map.

    Returns
    -------
    boundaries : ndarray of shape (H, W), dtype bool

    Examples
    --------
    >>> import numpy as np
    >>> seg = np.array([[0, 0, 1], [0, 0, 1]])
    >>> seg_to_boundaries(seg).astype(int).tolist()
    [[0, 1, 0], [0, 1, 0]]
    """
    seg = np.asarray(seg)
    if seg.ndim != 2:
        raise ValueError(f"seg must be a 2-D (H, W) label map, got shape {seg.shape}")
    if not (np.issubdtype(seg.dtype, np.integer) or seg.dtype == bool):
        raise ValueError(f"seg must hold integer labels, got dtype {seg.dtype}")
    b = _boundaries(seg)  # right and lower neighbours, as boundary_map; seg2bmap adds:
    b[:-1, :-1] |= seg[:-1, :-1] != seg[1:, 1:]
    return b


def _check_bool_map(array, name, shape=None):
    array = np.asarray(array)
    if array.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (H, W) map, got shape {array.shape}")
    if shape is not None and array.shape != tuple(shape):
        raise ValueError(f"{name} has shape {array.shape}, expected {tuple(shape)}")
    return array.astype(bool, copy=False)


def match_boundaries(pred, gt, max_dist):
    """Match predicted boundary pixels one-to-one to ground-truth ones within a distance.

    Parameters
    ----------
    pred, gt : array-like of shape (H, W), bool
        Predicted and ground-truth boundary pixels.
    max_dist : float
        Largest Euclidean distance, in pixels, between two matched pixels.

    Returns
    -------
    matched_pred, matched_gt : ndarray of shape (H, W), dtype bool
        The pixels of ``pred`` and of ``gt`` that belong to the matching; both hold the
        same number of pixels. The matching has maximum cardinality, so no ground-truth
        pixel explains two predicted pixels.

    Examples
    --------
    >>> import numpy as np
    >>> gt = np.zeros((5, 5), bool); gt[2, 2] = True
    >>> pred = np.zeros((5, 5), bool); pred[2, 1:4] = True
    >>> mp, mg = match_boundaries(pred, gt, 1.5)
    >>> int(mp.sum()), int(mg.sum())
    (1, 1)
    """
    pred = _check_bool_map(pred, "pred")
    gt = _check_bool_map(gt, "gt", pred.shape)
    if not np.isfinite(max_dist) or max_dist < 0:
        raise ValueError(f"max_dist must be a finite number >= 0, got {max_dist}")
    matched_pred = np.zeros(pred.shape, dtype=bool)
    matched_gt = np.zeros(gt.shape, dtype=bool)
    pi = np.flatnonzero(pred)
    gi = np.flatnonzero(gt)
    if pi.size == 0 or gi.size == 0:
        return matched_pred, matched_gt
    rows, cols = _candidate_pairs(pred, gt, gi, max_dist)
    if rows.size == 0:
        return matched_pred, matched_gt
    in_pred, in_gt = _maximum_matching(rows, cols, pi.size, gi.size)
    matched_pred.flat[pi[in_pred]] = True
    matched_gt.flat[gi[in_gt]] = True
    return matched_pred, matched_gt


def _maximum_matching(rows, cols, n_pred, n_gt):
    """Which vertices a maximum matching of the bipartite graph ``(rows, cols)`` covers.

    Solved as a unit-capacity maximum flow, source → predicted → ground truth → sink, with
    scipy's Dinic algorithm: compiled and a few milliseconds on the graphs of thin boundary
    maps, where scipy's ``maximum_bipartite_matching`` takes minutes on some inputs.
    """
    source, sink = n_pred + n_gt, n_pred + n_gt + 1
    tail = np.concatenate([np.full(n_pred, source), rows, n_pred + np.arange(n_gt)])
    head = np.concatenate([np.arange(n_pred), n_pred + cols, np.full(n_gt, sink)])
    graph = csr_matrix((np.ones(tail.size, dtype=np.int32), (tail, head)),
                       shape=(sink + 1, sink + 1))
    graph.data[:] = 1  # duplicate pairs were summed: every capacity is one
    flow = maximum_flow(graph, source, sink, method="dinic").flow.tocsr()
    in_pred = np.asarray(flow[source, :n_pred].todense()).ravel() > 0
    in_gt = np.asarray(flow[n_pred:n_pred + n_gt, sink].todense()).ravel() > 0
    return in_pred, in_gt


def _candidate_pairs(pred, gt, gt_flat, max_dist):
    """Index pairs (predicted, ground truth) of pixels at most ``max_dist`` apart."""
    # On a pixel grid a fixed list of offsets within the disc finds every pair; it is an
    # order of magnitude faster than a KD-tree for the few thousand pixels of a boundary map.
    r = int(np.floor(max_dist))
    h, w = pred.shape
    index = np.full((h + 2 * r, w + 2 * r), -1, dtype=np.int64)
    index[r:r + h, r:r + w].flat[gt_flat] = np.arange(gt_flat.size)
    py, px = np.nonzero(pred)
    py, px = py + r, px + r
    rows, cols = [], []
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            if dy * dy + dx * dx > max_dist * max_dist:
                continue
            j = index[py + dy, px + dx]
            ok = np.flatnonzero(j >= 0)
            rows.append(ok)
            cols.append(j[ok])
    return np.concatenate(rows), np.concatenate(cols)


def bsds_thresholds(n):
    """The ``n`` evenly spaced thresholds of the BSDS code: ``k/(n+1)`` for k from 1 to n.

    Examples
    --------
    >>> bsds_thresholds(3).tolist()
    [0.25, 0.5, 0.75]
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"the number of thresholds must be an int >= 1, got {n!r}")
    return np.linspace(1.0 / (n + 1), 1.0 - 1.0 / (n + 1), int(n))


def _as_annotations(annotations, shape):
    if isinstance(annotations, np.ndarray) and annotations.ndim == 2:
        annotations = [annotations]
    if len(annotations) == 0:
        raise ValueError("annotations is empty: pass at least one (H, W) label map")
    out = []
    for k, seg in enumerate(annotations):
        seg = np.asarray(seg)
        if seg.shape != tuple(shape):
            raise ValueError(f"annotation {k} has shape {seg.shape}, expected {tuple(shape)} "
                             "(the shape of the boundary map)")
        # BSDS500's ground truth (the ``Boundaries`` of its groundTruth files) is
        # seg2bmap thinned to one-pixel 8-connected lines: the staircase corners of
        # seg2bmap would add about 30 % of pixels no thin prediction can match one to one.
        out.append(_thin(seg_to_boundaries(seg)))
    return out


def boundary_pr_counts(prob, annotations, thresholds=99, max_dist_ratio=0.0075, thin=True):
    """Per-threshold match counts of one boundary map against its human annotations.

    Parameters
    ----------
    prob : array-like of shape (H, W)
        Boundary strength in [0, 1] (a soft map), a boolean boundary map, or an integer
        label map (a segmentation, scored through its :func:`seg_to_boundaries`). Boolean
        maps and segmentations are scored at one threshold.
    annotations : list of array-like of shape (H, W)
        Human label maps (one per annotator); their boundaries are the ground truth.
    thresholds : int or array-like of float, default=99
        The binarisation levels (``prob >= t``); an int ``n`` means :func:`bsds_thresholds`.
        The BSDS benchmark uses 99; 25 is close enough while developing and four times faster.
    max_dist_ratio : float, default=0.0075
        The matching tolerance as a fraction of the image diagonal (BSDS: 0.0075, about
        4.3 px at 321×481). Lower it to reward sharper localisation.
    thin : bool, default=True
        Thin each binary map to one-pixel-wide lines before matching, as BSDS does. Turn it
        off only for maps already thin.

    Returns
    -------
    counts : ndarray of shape (n_thresholds, 4), dtype int64
        Columns ``cntP, sumP, cntR, sumR``: predicted pixels matched to some annotation,
        predicted pixels, ground-truth pixels matched (summed over annotations) and
        ground-truth pixels (summed over annotations). Sum them over images to score a
        data set with :func:`bsds_ods_ois_ap`.
    thresholds : ndarray of shape (n_thresholds,)
        The levels used (``[0.5]`` for boolean maps and segmentations).

    Examples
    --------
    >>> import numpy as np
    >>> seg = np.zeros((40, 60), dtype=int); seg[:, 30:] = 1
    >>> prob = seg_to_boundaries(seg).astype(float)
    >>> counts, thresholds = boundary_pr_counts(prob, [seg, seg], thresholds=3)
    >>> counts[0].tolist()  # cntP, sumP, cntR, sumR
    [40, 40, 80, 80]
    """
    array = np.asarray(prob)
    if array.ndim != 2:
        raise ValueError(f"prob must be a 2-D (H, W) map, got shape {array.shape}")
    if array.dtype == bool:
        maps, thresholds = [array], np.array([0.5])
    elif np.issubdtype(array.dtype, np.integer):
        maps, thresholds = [seg_to_boundaries(array)], np.array([0.5])
    elif np.issubdtype(array.dtype, np.floating):
        if not np.all(np.isfinite(array)):
            raise ValueError("prob contains NaN or infinite values")
        if array.size and (array.min() < 0 or array.max() > 1):
            raise ValueError(f"a soft boundary map must lie in [0, 1], got values in "
                             f"[{array.min():g}, {array.max():g}]")
        if isinstance(thresholds, (int, np.integer)) and not isinstance(thresholds, bool):
            thresholds = bsds_thresholds(thresholds)
        thresholds = np.asarray(thresholds, dtype=np.float64).ravel()
        if thresholds.size == 0 or not np.all(np.isfinite(thresholds)):
            raise ValueError("thresholds must be a positive int or a non-empty list of numbers")
        maps = None
    else:
        raise ValueError(f"prob must be a float, bool or integer map, got dtype {array.dtype}")
    if not np.isfinite(max_dist_ratio) or max_dist_ratio <= 0:
        raise ValueError(f"max_dist_ratio must be > 0, got {max_dist_ratio}")
    gts = _as_annotations(annotations, array.shape)
    max_dist = max_dist_ratio * float(np.hypot(*array.shape))
    sum_r = int(sum(g.sum() for g in gts))

    counts = np.zeros((thresholds.size, 4), dtype=np.int64)
    for k, t in enumerate(thresholds):
        binary = maps[0] if maps is not None else array >= t
        if thin and binary.any():
            binary = _thin(binary)
        if not binary.any():
            counts[k] = (0, 0, 0, sum_r)
            continue
        any_match = np.zeros(binary.shape, dtype=bool)
        cnt_r = 0
        for g in gts:
            mp, mg = match_boundaries(binary, g, max_dist)
            any_match |= mp
            cnt_r += int(mg.sum())
        counts[k] = (any_match.sum(), binary.sum(), cnt_r, sum_r)
    return counts, thresholds


def _f(p, r):
    with np.errstate(invalid="ignore", divide="ignore"):
        f = 2 * p * r / (p + r)
    return np.where(p + r > 0, f, 0.0)


def _pr(counts):
    counts = np.asarray(counts, dtype=np.float64)
    p = np.divide(counts[..., 0], counts[..., 1], out=np.ones_like(counts[..., 0]),
                  where=counts[..., 1] > 0)
    r = np.divide(counts[..., 2], counts[..., 3], out=np.zeros_like(counts[..., 2]),
                  where=counts[..., 3] > 0)
    return p, r


def bsds_ods_ois_ap(counts_per_image, thresholds=None):
    """ODS, OIS and AP of a data set from the per-image counts of :func:`boundary_pr_counts`.

    Parameters
    ----------
    counts_per_image : list of ndarray of shape (n_thresholds, 4)
        One array per image, all with the same thresholds (the first output of
        :func:`boundary_pr_counts`; its ``(counts, thresholds)`` tuple is accepted too).
    thresholds : array-like of shape (n_thresholds,), optional
        The levels, only to report the best one (``ods_threshold``).

    Returns
    -------
    scores : dict
        ``ods`` (F at the best single threshold for the whole data set, counts summed over
        images; as in the BSDS code, recall and precision are interpolated linearly between
        neighbouring thresholds in 100 steps and the best F on those segments is taken),
        ``ods_threshold``, ``ods_precision``, ``ods_recall``, ``ois`` (F with each
        image at its own best threshold, counts summed over images at those thresholds),
        ``ap`` (area under the data-set precision-recall curve, by the BSDS code's rule:
        precision linearly interpolated at recall 0, 0.01, ..., 1 and zero outside the
        measured range, then averaged), ``precision`` and ``recall`` (the curve).

    Examples
    --------
    >>> import numpy as np
    >>> seg = np.zeros((40, 60), dtype=int); seg[:, 30:] = 1
    >>> prob = seg_to_boundaries(seg).astype(float)
    >>> scores = bsds_ods_ois_ap([boundary_pr_counts(prob, [seg], thresholds=5)[0]])
    >>> round(scores["ods"], 3), round(scores["ois"], 3)
    (1.0, 1.0)
    """
    arrays = []
    for k, c in enumerate(counts_per_image):
        if isinstance(c, tuple):
            c = c[0]
        c = np.asarray(c)
        if c.ndim != 2 or c.shape[1] != 4:
            raise ValueError(f"counts of image {k} must have shape (n_thresholds, 4), "
                             f"got {c.shape}")
        arrays.append(c)
    if not arrays:
        raise ValueError("counts_per_image is empty")
    if len({a.shape for a in arrays}) != 1:
        raise ValueError("all images must be scored at the same thresholds")
    stack = np.stack(arrays).astype(np.float64)
    total = stack.sum(axis=0)
    p, r = _pr(total)
    ods, ods_p, ods_r, ods_t = _interpolated_best_f(p, r, thresholds)
    per_p, per_r = _pr(stack)
    per_best = np.argmax(_f(per_p, per_r), axis=1)
    ois_p, ois_r = _pr(stack[np.arange(len(stack)), per_best].sum(axis=0))
    ap = _bsds_ap(p, r)
    return {
        "ods": ods,
        "ods_threshold": ods_t,
        "ods_precision": ods_p,
        "ods_recall": ods_r,
        "ois": float(_f(ois_p, ois_r)),
        "ap": ap,
        "precision": p,
        "recall": r,
    }


def _interpolated_best_f(p, r, thresholds):
    """Best F along the precision-recall curve with linear interpolation between
    neighbouring thresholds (101 points per segment), as the BSDS code's ``maxF``."""
    d = np.linspace(0.0, 1.0, 101)[:, None]
    if p.size > 1:
        ps = p[:-1] * (1 - d) + p[1:] * d  # (101, n_thresholds - 1)
        rs = r[:-1] * (1 - d) + r[1:] * d
    else:
        ps, rs = p[None], r[None]
    f = _f(ps, rs)
    k, j = np.unravel_index(int(np.argmax(f)), f.shape)
    level = None
    if thresholds is not None:
        t = np.asarray(thresholds, dtype=np.float64)
        level = float(t[j] * (1 - d[k, 0]) + t[j + 1] * d[k, 0]) if t.size > 1 else float(t[0])
    return float(f[k, j]), float(ps[k, j]), float(rs[k, j]), level


def _bsds_ap(p, r):
    # The BSDS code keeps one point per distinct recall, interpolates precision linearly
    # at recall 0:0.01:1 and counts recalls outside the measured range as precision 0.
    if p.size < 2:
        return 0.0
    r_unique, idx = np.unique(r, return_index=True)
    if r_unique.size < 2:
        return 0.0
    grid = np.linspace(0, 1, 101)
    pi = np.interp(grid, r_unique, p[idx], left=0.0, right=0.0)
    return float(pi.sum() / 100.0)
