"""The small per-image CNN of DFC, DynaSeg and DynaGuide (SPEC §1, step 2)."""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["DynaGuideNet"]


class DynaGuideNet(nn.Module):
    """Fully convolutional feature extractor trained from scratch on one image.

    ``n_blocks`` 3×3 blocks (conv · ReLU · BatchNorm; the first maps 3 → p channels, the
    others p → p), an optional residual connection from the first block's output to the last
    3×3 block's output, then a 1×1 response conv (p → q) followed by BatchNorm. No pooling:
    the response ``R'`` has the input's spatial size. With p = q = 100 and ``n_blocks=2``
    (the paper's "3 blocks counting the 1×1") it has about 0.1 M parameters.

    Parameters
    ----------
    n_features : int, default=100
        Width p of the 3×3 blocks.
    n_clusters : int, default=100
        Number q of response channels, the upper bound on the number of segments.
    n_blocks : int, default=2
        Number of 3×3 conv blocks (at least 1).
    residual : bool, default=True
        Add the first block's output to the last 3×3 block's output (a no-op when
        ``n_blocks == 1``).

    Examples
    --------
    >>> import torch
    >>> net = DynaGuideNet(n_features=8, n_clusters=5)
    >>> net(torch.rand(1, 3, 6, 7)).shape
    torch.Size([1, 5, 6, 7])
    """

    def __init__(self, n_features=100, n_clusters=100, n_blocks=2, residual=True):
        super().__init__()
        self.residual = residual
        widths = [3] + [n_features] * n_blocks
        self.blocks = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(c_in, c_out, kernel_size=3, padding=1),
                nn.ReLU(inplace=True),
                nn.BatchNorm2d(c_out),
            )
            for c_in, c_out in zip(widths[:-1], widths[1:])
        )
        self.response = nn.Sequential(
            nn.Conv2d(n_features, n_clusters, kernel_size=1), nn.BatchNorm2d(n_clusters)
        )

    def forward(self, x):
        first = out = self.blocks[0](x)
        for block in self.blocks[1:]:
            out = block(out)
        if self.residual and len(self.blocks) > 1:
            out = out + first
        return self.response(out)
