"""Several images' networks trained as one: the small CNNs stacked as grouped convolutions.

DynaGuide trains a fresh small CNN on every image. On one device, B images of the same
training size can share every forward and backward pass: their B networks are stacked into
one :class:`StackedDynaGuideNet` of *grouped* convolutions (``groups=B``), image ``b``
entering on channels ``3b..3b+2`` and leaving on channels ``bq..bq+q-1``. Nothing is shared
between the images:

* each group of a grouped convolution sees only its own image's channels;
* BatchNorm normalises every channel over the pixels of its one image (the batch axis has
  length 1), so each image keeps its own statistics;
* the training loop (:func:`skdynaguide.training.train`) sums the per-image losses, each
  computed exactly as for one image alone; the gradient of the sum with respect to image
  ``b``'s weights is the gradient of image ``b``'s loss, and SGD with momentum acts
  elementwise, so every image takes the step it would take alone.

The results equal those of one image at a time up to float rounding (a grouped convolution
adds up its terms in another order than B separate ones); ``tests/test_batched.py`` checks
identical labels and close losses on small images in float32, and nearly the same in
bfloat16, whose rounding is coarser.

Images are grouped in *buckets* of equal training size (:func:`batch_plan`), so no pixel of
padding ever enters a convolution, a BatchNorm statistic or a loss. With the default
``max_pixels`` every photo of one aspect ratio trains at the same size, whatever its
resolution, so real collections fall into few buckets. Stopping rules act per image: an image
that stops gets its final labels at that step and leaves the stack, which then shrinks
(:meth:`StackedDynaGuideNet.select` keeps the others' weights, :func:`select_groups` their
momentum). Which configurations stack is decided by
:attr:`skdynaguide.training.config.TrainingConfig.stackable`.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from . import network
from .config import is_stackable, training_shape
from .network import DynaGuideNet

__all__ = ["StackedDynaGuideNet", "batch_plan", "is_stackable", "select_groups"]


class StackedDynaGuideNet(nn.Module):
    """B :class:`~skdynaguide.training.network.DynaGuideNet` side by side as one network.

    Every convolution becomes a grouped convolution (``groups=B``) whose weights are the B
    networks' weights concatenated, every BatchNorm one over ``B·c`` channels: for an input
    ``(1, 3B, h, w)`` (the B images concatenated along channels) the output is
    ``(1, Bq, h, w)``, channels ``bq..bq+q-1`` being network ``b``'s response to image ``b``.

    Parameters
    ----------
    nets : list of DynaGuideNet
        Networks of the same shape; their current weights are copied.

    Examples
    --------
    >>> import torch
    >>> nets = [DynaGuideNet(n_features=8, n_clusters=5) for _ in range(3)]
    >>> stacked = StackedDynaGuideNet(nets)
    >>> x = [torch.rand(1, 3, 6, 7) for _ in range(3)]
    >>> out = stacked(torch.cat(x, dim=1))
    >>> out.shape
    torch.Size([1, 15, 6, 7])
    >>> bool(torch.allclose(out[:, 5:10], nets[1](x[1]), atol=1e-5))
    True
    """

    def __init__(self, nets):
        super().__init__()
        if not nets:
            raise ValueError("StackedDynaGuideNet needs at least one network")
        first = nets[0]
        self.n_nets = len(nets)
        self.residual = first.residual
        # DynaGuideNet appends one pair of coordinate channels to its input; the stack gives
        # each image its own pair after its colours instead (see forward)
        self.image_coordinates = getattr(first, "coordinates", False)
        self.coordinates = False
        self.blocks = nn.ModuleList(
            nn.Sequential(
                # a grouped conv with 3 input channels per group runs another CPU kernel
                # than the plain one, whose weight gradient sums in another order; this
                # layer is ~1/35 of the work, so it runs group by group and the results stay
                # bitwise equal to one-by-one training on the CPU
                _StackedConv.stack([net.blocks[k][0] for net in nets], split=k == 0),
                nn.ReLU(inplace=True),
                _stack_norm([net.blocks[k][2] for net in nets]),
            )
            for k in range(len(first.blocks))
        )
        self.response = nn.Sequential(
            _StackedConv.stack([net.response[0] for net in nets]),
            _stack_norm([net.response[1] for net in nets]),
        )

    def forward(self, x, window=None):
        if self.image_coordinates:
            x = torch.cat([network.with_coordinates(part, window)
                           for part in x.chunk(self.n_nets, dim=1)], dim=1)
        return DynaGuideNet.forward(self, x)

    def select(self, keep):
        """A new stack of the networks at positions ``keep``, with copies of their weights."""
        stacked = StackedDynaGuideNet.__new__(StackedDynaGuideNet)
        nn.Module.__init__(stacked)
        stacked.n_nets = len(keep)
        stacked.residual = self.residual
        stacked.image_coordinates, stacked.coordinates = self.image_coordinates, False
        stacked.blocks = nn.ModuleList(
            nn.Sequential(block[0].select(keep), nn.ReLU(inplace=True),
                          _select_norm(block[2], self.n_nets, keep))
            for block in self.blocks
        )
        stacked.response = nn.Sequential(self.response[0].select(keep),
                                         _select_norm(self.response[1], self.n_nets, keep))
        return stacked


class _StackedConv(nn.Module):
    """``groups`` convolutions side by side: weights ``(groups·c_out, c_in, k, k)``."""

    def __init__(self, weight, bias, groups, padding, split=False):
        super().__init__()
        self.weight = nn.Parameter(weight)
        self.bias = None if bias is None else nn.Parameter(bias)
        self.groups, self.padding, self.split = groups, padding, split

    @classmethod
    def stack(cls, convs, split=False):
        with torch.no_grad():
            weight = torch.cat([c.weight for c in convs]).clone()
            bias = None if convs[0].bias is None else torch.cat([c.bias for c in convs]).clone()
        return cls(weight, bias, len(convs), convs[0].padding, split)

    def select(self, keep):
        weight = select_groups(self.weight.detach(), self.groups, keep)
        bias = None if self.bias is None else select_groups(self.bias.detach(), self.groups, keep)
        return _StackedConv(weight, bias, len(keep), self.padding, self.split)

    def forward(self, x):
        if not self.split:
            return F.conv2d(x, self.weight, self.bias, padding=self.padding, groups=self.groups)
        c_in, c_out = x.shape[1] // self.groups, self.weight.shape[0] // self.groups
        return torch.cat([
            F.conv2d(x[:, g * c_in:(g + 1) * c_in], self.weight[g * c_out:(g + 1) * c_out],
                     None if self.bias is None else self.bias[g * c_out:(g + 1) * c_out],
                     padding=self.padding)
            for g in range(self.groups)
        ], dim=1)


def select_groups(tensor, n_groups, keep, dim=0):
    """The slices of ``tensor`` belonging to the groups ``keep``, in that order.

    Dimension ``dim`` is split into ``n_groups`` equal consecutive groups, as the stacked
    weights, their momentum and the stacked input are.

    Examples
    --------
    >>> import torch
    >>> from skdynaguide.training.batched import select_groups
    >>> select_groups(torch.arange(6), 3, [2, 0]).tolist()
    [4, 5, 0, 1]
    """
    size = tensor.shape[dim] // n_groups
    return torch.cat([tensor.narrow(dim, g * size, size) for g in keep], dim=dim)


def _stack_norm(norms):
    first = norms[0]
    norm = nn.BatchNorm2d(first.num_features * len(norms), eps=first.eps,
                          momentum=first.momentum)
    with torch.no_grad():
        norm.weight.copy_(torch.cat([n.weight for n in norms]))
        norm.bias.copy_(torch.cat([n.bias for n in norms]))
    return norm


def _select_norm(norm, n_groups, keep):
    out = nn.BatchNorm2d(norm.num_features // n_groups * len(keep), eps=norm.eps,
                         momentum=norm.momentum)
    out.weight = nn.Parameter(select_groups(norm.weight.detach(), n_groups, keep))
    out.bias = nn.Parameter(select_groups(norm.bias.detach(), n_groups, keep))
    # the running statistics normalise the full-size pass after training (training.py)
    out.running_mean.copy_(select_groups(norm.running_mean, n_groups, keep))
    out.running_var.copy_(select_groups(norm.running_var, n_groups, keep))
    out.num_batches_tracked.copy_(norm.num_batches_tracked)
    return out


def batch_plan(shapes, batch_size, max_pixels):
    """Group image indices into batches of at most ``batch_size`` sharing a training size.

    Parameters
    ----------
    shapes : list of (int, int)
        Full image sizes ``(H, W)``.
    batch_size : int
    max_pixels : int or None
        As in :func:`~skdynaguide.training.config.training_shape`.

    Returns
    -------
    batches : list of list of int
        Every index once; buckets in order of first appearance, each split into runs of at
        most ``batch_size`` in input order.

    Examples
    --------
    >>> batch_plan([(10, 20), (20, 10), (10, 20), (10, 20)], batch_size=2, max_pixels=None)
    [[0, 2], [3], [1]]
    >>> batch_plan([(100, 200), (300, 600)], batch_size=4, max_pixels=5000)  # same shape
    [[0, 1]]
    """
    buckets = {}
    for index, (height, width) in enumerate(shapes):
        buckets.setdefault(training_shape(height, width, max_pixels), []).append(index)
    return [members[start:start + batch_size] for members in buckets.values()
            for start in range(0, len(members), batch_size)]
