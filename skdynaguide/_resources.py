"""Memory the per-image training needs, checked before any work starts.

Training holds every activation of the network at the training size for the backward pass,
so its memory grows with ``h · w · (p, q)``: a 12-megapixel photograph at full resolution
(``max_pixels=None``) with p = q = 100 needs about 100 GB. Rather than let the operating
system kill the process (or CUDA fail mid-way), :func:`check_training_memory` compares an
estimate with the memory free on the device and raises :class:`TrainingMemoryError` first.
"""
from __future__ import annotations

import os

__all__ = ["TrainingMemoryError", "training_bytes", "available_bytes", "check_training_memory"]


class TrainingMemoryError(MemoryError):
    """Training an image at the requested size would not fit in the free memory.

    Raised before any work; the message gives the estimate, the free memory and how to
    train at a reduced resolution (``max_pixels``).
    """


def training_bytes(height, width, n_features, n_clusters, n_blocks):
    """Estimated peak memory (bytes) of training the small CNN on an ``height × width`` input.

    Calibrated on the CPU against the peak resident-memory growth of two SGD steps of
    :func:`~skdynaguide.training.segment_image` (300² to 500² pixels, p ∈ {32, 50, 100},
    q ∈ {16, 100}, 1 to 3 blocks): the estimate was 0.92–1.26× the measurement (see
    ``docs/reliability.rst``). Per pixel: about ``3·p`` floats per 3×3 block (convolution,
    ReLU and batch-norm outputs kept for the backward pass), ``6·p`` for the first block's
    input side and the skip connection, and ``12·q`` for the response, its batch-norm, the
    softmax of the cross-entropies, the four continuity differences and the gradients.
    """
    floats_per_pixel = 3 * n_features * n_blocks + 6 * n_features + 12 * n_clusters
    return 4 * int(height) * int(width) * floats_per_pixel


def available_bytes(device):
    """Free memory on ``device`` in bytes, or None when it cannot be told.

    CUDA: ``torch.cuda.mem_get_info``. CPU: ``MemAvailable`` of ``/proc/meminfo`` (Linux),
    else the available physical pages from ``os.sysconf``.
    """
    device = str(device)
    if device.startswith("cuda"):
        import torch

        try:
            free, _ = torch.cuda.mem_get_info(torch.device(device))
            return int(free)
        except Exception:  # noqa: BLE001 - a driver that cannot tell is not an error here
            return None
    if device != "cpu":
        return None  # mps and others share the system memory in ways we do not model
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_training_memory(shapes, *, n_features, n_clusters, n_blocks, device, n_jobs=1,
                          max_pixels=None):
    """Raise :class:`TrainingMemoryError` when training would not fit on ``device``.

    Parameters
    ----------
    shapes : list of (int, int)
        The training size ``(h, w)`` of every image (after ``max_pixels``).
    n_features, n_clusters, n_blocks : int
        The network's width p, its q responses and its number of 3×3 blocks.
    device : str
        A resolved torch device.
    n_jobs : int, default=1
        Images trained at the same time (each needs its own memory).
    max_pixels : int or None
        The estimator's setting, named in the message.
    """
    if not shapes:
        return
    free = available_bytes(device)
    if free is None:
        return
    sizes = sorted((h * w for h, w in shapes), reverse=True)
    need = sum(training_bytes(1, px, n_features, n_clusters, n_blocks)
               for px in sizes[:max(1, n_jobs)])
    if need <= free:
        return
    largest = max(shapes, key=lambda s: s[0] * s[1])
    per_pixel = training_bytes(1, 1, n_features, n_clusters, n_blocks)
    fits = int(free / per_pixel / max(1, min(n_jobs, len(shapes))))
    raise TrainingMemoryError(
        f"training needs about {need / 2**30:.1f} GiB on {device} (largest image trained at "
        f"{largest[0]}x{largest[1]} pixels, n_features={n_features}, n_clusters={n_clusters}"
        f"{f', {n_jobs} images at once' if n_jobs > 1 else ''}) but only "
        f"{free / 2**30:.1f} GiB are free; nothing was trained. Train at a reduced "
        f"resolution with max_pixels (currently {max_pixels}; at most about {fits} pixels "
        "fit), or lower n_features / n_clusters / n_jobs"
    )
