"""The tensor steps of DiffSeg (Tian et al., CVPR 2024), as plain functions.

Everything after the UNet pass lives here, free of any model, so that each step can be
tested alone on small synthetic attention tensors:

1. :func:`aggregate_attention` — self-attention maps (averaged over heads and over layers of
   one resolution) are brought to the largest resolution ``R`` (64 for Stable Diffusion at
   512²): key axes bilinearly upsampled and renormalised (:func:`upsample_keys`), query axes
   repeated (nearest), resolutions weighted in proportion to their side
   (:func:`resolution_weights`). The result holds ``R²`` distributions over ``R²`` locations.
2. :func:`anchor_grid` — the ``16 × 16`` anchor locations whose distributions seed the
   proposals.
3. :func:`iterative_merging` — proposals merged by symmetric KL divergence
   (:func:`symmetric_kl`) under one threshold per iteration: the first iteration averages,
   for every anchor, all locations close to it (:func:`merge_with_anchors`); the later ones
   greedily group close proposals (:func:`merge_proposals`).
4. :func:`refine_proposals` (optional k-means), then :func:`proposals_to_labels`
   (bilinear upsampling, argmax over proposals — "non-maximum suppression").

Locations are flattened row-major (``index = row * R + col``), as the UNet flattens its
feature maps. Also here: the model's input for one window (:func:`model_input`), the central
square the original segments (:func:`center_square`), the square windows that let DiffSeg
cover non-square images (:func:`window_starts`, :func:`stitch_windows`) and
:func:`resize_labels`.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

__all__ = [
    "aggregate_attention",
    "anchor_grid",
    "center_square",
    "iterative_merging",
    "merge_proposals",
    "merge_with_anchors",
    "model_input",
    "proposals_to_labels",
    "refine_proposals",
    "resize_labels",
    "resolution_weights",
    "stitch_windows",
    "symmetric_kl",
    "upsample_keys",
    "window_starts",
]

#: Probabilities are clamped to this before ``log`` so that an exact zero stays finite.
EPS = 1e-12


def _side(n_locations):
    side = math.isqrt(n_locations)
    if side * side != n_locations:
        raise ValueError(f"attention over {n_locations} locations is not a square feature map")
    return side


def resolution_weights(sides):
    """Aggregation weight of each resolution, proportional to its side (DiffSeg §3.1).

    Parameters
    ----------
    sides : sequence of int
        Side ``r`` of each attention resolution (64, 32, 16, 8 for Stable Diffusion).

    Returns
    -------
    weights : list of float
        ``r / sum(sides)``; with Stable Diffusion 64:32:16:8 gives 8/15, 4/15, 2/15, 1/15.

    Examples
    --------
    >>> [round(w, 4) for w in resolution_weights([64, 32, 16, 8])]
    [0.5333, 0.2667, 0.1333, 0.0667]
    """
    sides = [int(s) for s in sides]
    if not sides or min(sides) < 1:
        raise ValueError(f"sides must be positive integers, got {sides}")
    total = float(sum(sides))
    return [s / total for s in sides]


def upsample_keys(maps, side):
    """Bilinearly upsample the key axes of attention maps to ``side × side`` and renormalise.

    Parameters
    ----------
    maps : tensor of shape (Q, r * r)
        One distribution over the ``r × r`` key locations per query.
    side : int
        Target side ``R`` (a multiple of ``r`` in DiffSeg, but any size works).

    Returns
    -------
    tensor of shape (Q, side * side)
        Each row sums to one again after interpolation (half-pixel centres, i.e.
        ``align_corners=False``, as Keras' bilinear ``UpSampling2D`` of the original).
    """
    n_queries, n_keys = maps.shape
    r = _side(n_keys)
    grid = maps.reshape(n_queries, 1, r, r)
    if r != side:
        grid = F.interpolate(grid, size=(side, side), mode="bilinear", align_corners=False)
    flat = grid.reshape(n_queries, side * side)
    return flat / flat.sum(dim=1, keepdim=True)


def aggregate_attention(maps, side=None, weights=None, dtype=torch.float32):
    """Aggregate self-attention maps of several resolutions into ``(R, R, R, R)`` (§3.1).

    Parameters
    ----------
    maps : dict {int: tensor of shape (r * r, r * r)} or sequence of such tensors
        One attention map per resolution, already averaged over heads and over the layers of
        that resolution; row ``i`` is query location ``i``'s distribution over key locations.
    side : int or None
        Target side ``R``; None takes the largest resolution (64 for Stable Diffusion).
        Every resolution must divide it.
    weights : sequence of float or None
        One weight per map; None gives :func:`resolution_weights`.
    dtype : torch.dtype, default=torch.float32
        Dtype of the result.

    Returns
    -------
    attention : tensor of shape (R, R, R, R)
        ``attention[i, j]`` is the distribution over the ``R × R`` locations attended to by
        location ``(i, j)``; each sums to one. A query at a coarse resolution is repeated over
        the ``(R / r)²`` locations it covers (nearest upsampling of the query axes).
    """
    tensors = list(maps.values()) if isinstance(maps, dict) else list(maps)
    if not tensors:
        raise ValueError("no attention maps to aggregate")
    sides = []
    for m in tensors:
        if m.ndim != 2 or m.shape[0] != m.shape[1]:
            raise ValueError(f"attention maps must be square (N, N) matrices, got {tuple(m.shape)}")
        sides.append(_side(m.shape[0]))
    side = max(sides) if side is None else int(side)
    if weights is None:
        weights = resolution_weights(sides)
    if len(weights) != len(tensors):
        raise ValueError(f"{len(weights)} weights for {len(tensors)} attention maps")
    out = torch.zeros((side, side, side * side), dtype=dtype, device=tensors[0].device)
    for m, r, w in zip(tensors, sides, weights):
        if side % r:
            raise ValueError(f"attention resolution {r} does not divide the target side {side}")
        ratio = side // r
        keys = upsample_keys(m.to(dtype), side)  # (r*r, R*R)
        # Nearest upsampling of the query axes without materialising the repeated tensor:
        # view the output as (r, ratio, r, ratio, R*R) and broadcast over the ratio axes.
        view = out.view(r, ratio, r, ratio, side * side)
        view += float(w) * keys.view(r, 1, r, 1, side * side)
    return out.view(side, side, side, side)


def anchor_grid(n_points, side):
    """The ``n_points × n_points`` anchor locations on an ``side × side`` map (§3.2).

    As in the original code (for ``side = 64``, 16 points: rows and columns 1, 5, ..., 61):
    points evenly spaced by ``(side - 1) // (n_points - 1)`` and centred. ``n_points`` larger
    than ``side`` is reduced to ``side``.

    Returns
    -------
    points : ndarray of shape (n_points ** 2, 2), dtype int64
        ``(row, col)`` pairs, rows varying slowest.

    Examples
    --------
    >>> points = anchor_grid(16, 64)
    >>> points.shape, [int(v) for v in points[:2, 1]], [int(v) for v in points[-1]]
    ((256, 2), [1, 5], [61, 61])
    """
    n_points, side = int(n_points), int(side)
    if n_points < 1 or side < 1:
        raise ValueError(f"n_points and side must be >= 1, got {n_points} and {side}")
    n_points = min(n_points, side)
    if n_points == 1:
        coords = np.array([(side - 1) // 2])
    else:
        step = (side - 1) // (n_points - 1)
        start = (side - 1 - step * (n_points - 1)) // 2
        coords = start + step * np.arange(n_points)
    rows, cols = np.meshgrid(coords, coords, indexing="ij")
    return np.stack([rows.ravel(), cols.ravel()], axis=1).astype(np.int64)


def symmetric_kl(p, q, chunk_size=1024):
    """Symmetric KL divergence between every row of ``p`` and every row of ``q`` (§3.2).

    ``D(p, q) = (KL(p || q) + KL(q || p)) / 2 = ½ Σ (p - q)(log p - log q)``, as the
    original code. Computed as two matrix products over chunks of ``q``, so that memory stays
    ``O(len(p) · chunk_size + chunk_size · dim)`` rather than ``len(p) · len(q) · dim``.
    Probabilities are clamped to ``1e-12`` inside the logarithms.

    Parameters
    ----------
    p : tensor of shape (A, D)
    q : tensor of shape (B, D)
        Rows are distributions over the same D locations.
    chunk_size : int, default=1024
        Rows of ``q`` processed at once.

    Returns
    -------
    tensor of shape (A, B)

    Examples
    --------
    >>> p = torch.tensor([[0.5, 0.5], [0.9, 0.1]], dtype=torch.float64)
    >>> d = symmetric_kl(p, p)
    >>> float(d[0, 0]), round(float(d[0, 1]), 4), bool(d[0, 1] == d[1, 0])
    (0.0, 0.4394, True)
    """
    if p.ndim != 2 or q.ndim != 2 or p.shape[1] != q.shape[1]:
        raise ValueError(f"p and q must be (A, D) and (B, D), got {tuple(p.shape)} and {tuple(q.shape)}")
    log_p = p.clamp_min(EPS).log()
    self_p = (p * log_p).sum(dim=1, keepdim=True)  # Σ p log p, (A, 1)
    out = torch.empty((p.shape[0], q.shape[0]), dtype=p.dtype, device=p.device)
    for start in range(0, q.shape[0], chunk_size):
        q_c = q[start:start + chunk_size].to(p.dtype)
        log_q = q_c.clamp_min(EPS).log()
        self_q = (q_c * log_q).sum(dim=1)  # Σ q log q, (C,)
        cross = p @ log_q.T + log_p @ q_c.T  # Σ p log q + Σ q log p
        out[:, start:start + q_c.shape[0]] = 0.5 * (self_p + self_q - cross)
    return out


def merge_with_anchors(attention, anchors, threshold, chunk_size=1024):
    """First merging iteration: each anchor becomes the mean of the locations close to it.

    Parameters
    ----------
    attention : tensor of shape (N, N)
        The aggregated attention, one distribution per location (row).
    anchors : array-like of int, shape (A,)
        Flat indices of the anchor locations.
    threshold : float
        Locations whose symmetric KL to an anchor is below this are averaged into its
        proposal (the anchor itself always is: its divergence is 0).

    Returns
    -------
    proposals : tensor of shape (A, N)
        One proposal per anchor, duplicates included (the next iteration removes them).
    """
    anchors = torch.as_tensor(np.asarray(anchors), dtype=torch.long, device=attention.device)
    close = (symmetric_kl(attention[anchors], attention, chunk_size) < threshold).to(attention.dtype)
    # an anchor is always close to itself, even if rounding makes its divergence a hair above 0
    close[torch.arange(len(anchors), device=attention.device), anchors] = 1
    return (close @ attention) / close.sum(dim=1, keepdim=True)


def merge_proposals(proposals, threshold, chunk_size=1024):
    """A later merging iteration: greedily group proposals closer than ``threshold``.

    Proposals are visited in order; one not yet grouped starts a group made of *every*
    proposal (grouped before or not) whose symmetric KL to it is below the threshold, and
    the group's mean becomes a new proposal — exactly the original's procedure.

    Returns
    -------
    tensor of shape (K', N) with ``K' <= K``
    """
    close = symmetric_kl(proposals, proposals, chunk_size) < threshold
    close.fill_diagonal_(True)
    close = close.cpu().numpy()
    grouped = np.zeros(len(proposals), dtype=bool)
    merged = []
    for i in range(len(proposals)):
        if grouped[i]:
            continue
        members = close[i]
        grouped |= members
        merged.append(proposals[torch.from_numpy(members).to(proposals.device)].mean(dim=0))
    return torch.stack(merged)


def iterative_merging(attention, anchors, thresholds, chunk_size=1024):
    """Iterative attention merging (§3.2): one iteration per threshold.

    Parameters
    ----------
    attention : tensor of shape (R, R, R, R)
        Output of :func:`aggregate_attention`.
    anchors : ndarray of shape (A, 2)
        ``(row, col)`` anchor locations (:func:`anchor_grid`).
    thresholds : sequence of float
        KL threshold of each iteration (DiffSeg: ``[1.1, 1.1, 1.1]``).

    Returns
    -------
    proposals : tensor of shape (K, R, R)
        The object proposals, each a distribution over the ``R × R`` locations.
    """
    side = attention.shape[0]
    if len(thresholds) < 1:
        raise ValueError("at least one KL threshold is needed")
    flat = attention.reshape(side * side, side * side)
    anchors = np.asarray(anchors)
    proposals = merge_with_anchors(flat, anchors[:, 0] * side + anchors[:, 1], thresholds[0], chunk_size)
    for threshold in thresholds[1:]:
        proposals = merge_proposals(proposals, threshold, chunk_size)
    return proposals.reshape(-1, side, side)


def refine_proposals(attention, proposals, random_state=None):
    """Optional k-means refinement of the proposals (the original's ``refine=True``).

    k-means on the ``R²`` attention distributions, initialised at the proposals; each
    non-empty cluster's mean distribution is a refined proposal.

    Returns
    -------
    tensor of shape (K', R, R), ``K' <= K``, on the device and in the dtype of ``attention``
    """
    from sklearn.cluster import KMeans

    side = attention.shape[0]
    points = attention.reshape(side * side, -1)
    data = points.detach().float().cpu().numpy()
    init = proposals.reshape(len(proposals), -1).detach().float().cpu().numpy()
    kmeans = KMeans(n_clusters=len(init), init=init, n_init=1, random_state=random_state)
    labels = kmeans.fit_predict(data)
    used = np.unique(labels)
    one_hot = torch.from_numpy(labels[None, :] == used[:, None]).to(points.device, points.dtype)
    refined = (one_hot @ points) / one_hot.sum(dim=1, keepdim=True)
    return refined.reshape(len(used), side, side)


def proposals_to_labels(proposals, size):
    """Upsample proposals bilinearly to ``size`` and take the argmax (the original's ×8 + NMS).

    Parameters
    ----------
    proposals : tensor of shape (K, R, R)
    size : (int, int)
        Output ``(height, width)``; DiffSeg uses the model's input size (512 × 512).

    Returns
    -------
    labels : ndarray of shape size, dtype int64
        Index of the strongest proposal at each pixel.
    """
    up = F.interpolate(proposals[None].float(), size=tuple(size), mode="bilinear", align_corners=False)
    return up[0].argmax(dim=0).cpu().numpy().astype(np.int64)


def resize_labels(labels, size):
    """Nearest-neighbour resize of a label map (pixel centres), without mixing labels.

    Examples
    --------
    >>> resize_labels(np.array([[0, 1], [2, 3]]), (4, 2)).tolist()
    [[0, 1], [0, 1], [2, 3], [2, 3]]
    """
    labels = np.asarray(labels)
    height, width = labels.shape
    rows = np.minimum(((np.arange(size[0]) + 0.5) * height / size[0]).astype(np.int64), height - 1)
    cols = np.minimum(((np.arange(size[1]) + 0.5) * width / size[1]).astype(np.int64), width - 1)
    return labels[rows[:, None], cols[None, :]]


def model_input(image, side, antialias=True):
    """The VAE's input for one window: resized to ``side × side`` and scaled to [-1, 1].

    Parameters
    ----------
    image : ndarray of shape (H, W, 3)
        RGB in [0, 1] (any float or integer dtype that holds such values).
    side : int
        The model's input side (512 for Stable Diffusion v1.x).
    antialias : bool, default=True
        Low-pass filter the image when it is shrunk (a window larger than ``side``). The
        original code resizes without (``tf.image.resize``, bilinear with half-pixel
        centres), which this reproduces with False; enlarging is the same either way.

    Returns
    -------
    pixels : tensor of shape (1, 3, side, side), dtype float32
        Bilinear resize with half-pixel centres (``align_corners=False``), then
        ``2 * x - 1``, as the original's ``x / 127.5 - 1`` on 0–255 values.

    Examples
    --------
    >>> pixels = model_input(np.ones((2, 3, 3)) * [0.0, 0.5, 1.0], 4)
    >>> tuple(pixels.shape), pixels[0, :, 0, 0].tolist()
    ((1, 3, 4, 4), [-1.0, 0.0, 1.0])
    """
    pixels = torch.from_numpy(np.ascontiguousarray(image, dtype=np.float32)).permute(2, 0, 1)[None]
    if pixels.shape[-2:] != (side, side):
        pixels = F.interpolate(pixels, size=(side, side), mode="bilinear", align_corners=False,
                               antialias=bool(antialias))
    return pixels.clamp(0, 1) * 2 - 1


def center_square(height, width):
    """``(top, left, side)`` of the central square of an image, as the original crops it.

    The side is ``min(height, width)``; the offsets are rounded down, as in the original's
    data loaders.

    Examples
    --------
    >>> center_square(321, 481), center_square(481, 320), center_square(5, 5)
    ((0, 80, 321), (80, 0, 320), (0, 0, 5))
    """
    side = min(int(height), int(width))
    return (int(height) - side) // 2, (int(width) - side) // 2, side


def window_starts(length, side):
    """Offsets of square windows of ``side`` covering ``length``, overlapping by at least half.

    Examples
    --------
    >>> window_starts(481, 321), window_starts(300, 300), window_starts(200, 50)
    ([0, 160], [0], [0, 25, 50, 75, 100, 125, 150])
    """
    length, side = int(length), int(side)
    if side > length or side < 1:
        raise ValueError(f"window side {side} must be in [1, {length}]")
    if length == side:
        return [0]
    n_windows = math.ceil((length - side) / (side / 2)) + 1
    return [int(round(s)) for s in np.linspace(0, length - side, n_windows)]


def stitch_windows(window_labels, starts, length):
    """Join the label maps of overlapping square windows along the columns of one image.

    Windows are visited left to right. A segment of a window continues the segment of the
    previous window that covers at least half of its pixels in their overlap; otherwise it
    gets a new label. Each column of the output is then taken from the window whose centre
    is nearest, so that every window contributes only its central part.

    Parameters
    ----------
    window_labels : list of ndarray of shape (S, S)
        The integer label maps of the windows (independent label ids); windows of shape
        (rows, S) work the same.
    starts : list of int
        Column offset of each window (:func:`window_starts`).
    length : int
        Width of the image.

    Returns
    -------
    labels : ndarray of shape (rows, length), dtype int64

    Examples
    --------
    >>> left = np.array([[0, 0, 1, 1]] * 2); right = np.array([[5, 5, 7, 7]] * 2)
    >>> stitch_windows([left, right], [0, 2], 6).tolist()
    [[0, 0, 1, 1, 2, 2], [0, 0, 1, 1, 2, 2]]
    """
    if len(window_labels) != len(starts) or not window_labels:
        raise ValueError("one start offset per window is needed")
    rows, side = np.shape(window_labels[0])
    glob = []  # each window's labels expressed in global ids
    next_label = 0
    for k, labels in enumerate(window_labels):
        labels = np.asarray(labels, dtype=np.int64)
        values, local = np.unique(labels, return_inverse=True)
        local = local.reshape(labels.shape)
        mapping = np.full(len(values), -1, dtype=np.int64)
        if k > 0:
            overlap = starts[k - 1] + side - starts[k]
            if overlap > 0:
                cur = local[:, :overlap].ravel()
                prev = glob[k - 1][:, starts[k] - starts[k - 1]:].ravel()
                for b in np.unique(cur):
                    hits = np.bincount(prev[cur == b])
                    if 2 * hits.max() >= hits.sum():
                        mapping[b] = int(hits.argmax())
        for b in np.flatnonzero(mapping < 0):
            mapping[b] = next_label
            next_label += 1
        next_label = max(next_label, int(mapping.max()) + 1)
        glob.append(mapping[local])
    centres = np.asarray(starts, dtype=np.float64) + side / 2
    owner = np.abs((np.arange(length) + 0.5)[:, None] - centres[None, :]).argmin(axis=1)
    out = np.empty((rows, length), dtype=np.int64)
    for k, start in enumerate(starts):
        cols = np.flatnonzero(owner == k)
        out[:, cols] = glob[k][:, cols - start]
    return out
