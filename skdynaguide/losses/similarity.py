"""Feature similarity loss ``L_sim``: the response against its own argmax."""
from __future__ import annotations

import torch.nn.functional as F

from .guidance import IGNORE

__all__ = ["FeatureSimilarityLoss"]


class FeatureSimilarityLoss:
    """``L_sim = CE(R', C)`` with ``C = argmax_j R'[:, j]``, the mean over pixels.

    The target is the response's own argmax (no gradient through it): the term sharpens
    whatever clustering the network currently expresses. Pixels whose target is ``IGNORE``
    (−1) are left out (DFC with scribbles computes ``L_sim`` on the unscribbled pixels only);
    the loss is zero when every pixel is left out.

    Examples
    --------
    >>> import torch
    >>> response = torch.tensor([[[[2.0]], [[0.0]]]])  # 2 channels, one pixel
    >>> round(float(FeatureSimilarityLoss()(response, response.argmax(1))), 4)
    0.1269
    """

    def __call__(self, response, clusters):
        if not bool((clusters != IGNORE).any()):
            return response.new_zeros(())
        return F.cross_entropy(response, clusters, ignore_index=IGNORE)
