"""Guidance loss ``L_gp``: the response against the guide in channel space."""
from __future__ import annotations

import torch.nn.functional as F

__all__ = ["GuidanceLoss", "IGNORE"]

#: Target value for pixels the guide leaves unconstrained (e.g. unmatched guide segments).
IGNORE = -1


class GuidanceLoss:
    """``L_gp = CE(R', P̃)``, the mean over guided pixels.

    ``P̃`` is the guidance map already expressed in the network's channel space (see
    :mod:`skdynaguide.training.matching`); pixels whose target is ``IGNORE`` (−1) are left out, and the
    loss is zero when every pixel is left out.

    Examples
    --------
    >>> import torch
    >>> response = torch.zeros(1, 4, 2, 2)
    >>> target = torch.tensor([[[0, 1], [-1, -1]]])
    >>> round(float(GuidanceLoss()(response, target)), 4)  # log(4)
    1.3863
    """

    def __call__(self, response, target):
        if not bool((target != IGNORE).any()):
            return response.new_zeros(())
        return F.cross_entropy(response, target, ignore_index=IGNORE)
