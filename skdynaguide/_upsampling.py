"""Labels at full resolution from logits computed on a smaller grid.

The training loop (the network's response on the downscaled training image) and the
SegFormer provider (class logits at 1/4 of the processed size) both take the argmax of
logits bilinearly upsampled to the image's size.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["upsampled_argmax"]


def upsampled_argmax(logits, size, chunk=16):
    """Argmax over classes of logits bilinearly upsampled to ``size``, in class chunks.

    Equal to ``interpolate(logits, size, "bilinear").argmax(0)`` but only ``chunk`` upsampled
    class maps are held at a time (150 ADE20K classes at full resolution would be 150 ×
    H × W floats).

    Parameters
    ----------
    logits : tensor of shape (L, h, w)
    size : (int, int)
        Output ``(H, W)``.
    chunk : int, default=16
        Number of classes upsampled at a time.

    Returns
    -------
    labels : ndarray of shape (H, W), dtype int64

    Examples
    --------
    >>> import torch
    >>> from skdynaguide._upsampling import upsampled_argmax
    >>> logits = torch.tensor([[[0.0, 1.0]], [[1.0, 0.0]]])  # 2 classes on a 1x2 grid
    >>> upsampled_argmax(logits, (1, 4), chunk=1).tolist()
    [[1, 1, 0, 0]]
    """
    best = best_label = None
    for start in range(0, logits.shape[0], chunk):
        part = logits[None, start:start + chunk].float()
        up = F.interpolate(part, size=tuple(size), mode="bilinear", align_corners=False)[0]
        value, index = up.max(dim=0)
        if best is None:
            best, best_label = value, index
        else:
            better = value > best  # ties keep the lower class, as argmax does
            best = torch.where(better, value, best)
            best_label = torch.where(better, index + start, best_label)
    return best_label.cpu().numpy().astype(np.int64)
