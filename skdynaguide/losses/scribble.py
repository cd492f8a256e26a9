"""DFC's scribble loss ``L_scr``: cross-entropy on the pixels a user labelled."""
from __future__ import annotations

from .guidance import IGNORE, GuidanceLoss

__all__ = ["ScribbleLoss", "UNLABELLED"]

#: Value marking the pixels of a scribble map that carry no label.
UNLABELLED = IGNORE


class ScribbleLoss(GuidanceLoss):
    """``L_scr = CE(R', S)``, the mean over scribbled pixels (Kim et al. 2020, §III-E).

    ``S`` holds, per pixel, the network channel of its scribble class, or ``UNLABELLED``
    (−1). DFC weights this term 0.5 and computes ``L_sim`` on the unscribbled pixels only.
    The loss is zero when no pixel is scribbled.

    Examples
    --------
    >>> import torch
    >>> response = torch.zeros(1, 4, 2, 2)
    >>> target = torch.tensor([[[2, -1], [-1, -1]]])
    >>> round(float(ScribbleLoss()(response, target)), 4)  # log(4)
    1.3863
    """
