"""The per-image network: the small CNN of DFC, DynaSeg and DynaGuide, and the ``network``
parameter that swaps it for another architecture.

Whatever the architecture, the training loop needs one thing: a fresh module, built by
``build(n_features, n_clusters)``, that maps a ``(1, 3, h, w)`` image in ``[0, 1]`` to the
``(1, q, h, w)`` response ``R'``, its last layer a 1×1 conv + BatchNorm named ``response``
(the modularity loss and the silhouette phase read the p features entering it).
"""
from __future__ import annotations

import torch
from sklearn.base import BaseEstimator
from torch import nn

from .._image import check_scalar_int
from .._registry import Pluggable

__all__ = ["DynaGuideNet", "NetworkBuilder", "CNNBuilder", "resolve_network",
           "with_coordinates"]


def with_coordinates(x, window=None):
    """``x`` with two more channels: each pixel's row and column, scaled to [0, 1].

    The coordinates are relative to the image, so a network trained on a shrunk image sees
    the same values at the same places of the full-size one.

    Parameters
    ----------
    x : tensor of shape (n, c, h, w)
    window : (int, int, int, int), list of such, or None, default=None
        ``(top, left, height, width)``: ``x`` is the part of a ``height × width`` image whose
        first pixel is at row ``top``, column ``left`` (a strip of a large image processed
        piece by piece, a random crop). A list gives one window per sample of ``x`` (crops
        of different images in one batch). None: ``x`` is the whole image.

    Examples
    --------
    >>> import torch
    >>> out = with_coordinates(torch.zeros(1, 3, 2, 3))
    >>> out.shape
    torch.Size([1, 5, 2, 3])
    >>> out[0, 3].tolist(), out[0, 4, 0].tolist()
    ([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]], [0.0, 0.5, 1.0])
    >>> with_coordinates(torch.zeros(1, 3, 1, 3), window=(1, 0, 3, 3))[0, 3].tolist()
    [[0.5, 0.5, 0.5]]
    >>> crops = with_coordinates(torch.zeros(2, 3, 1, 1), window=[(0, 0, 3, 3), (2, 2, 3, 3)])
    >>> crops[:, 3:].flatten().tolist()
    [0.0, 0.0, 1.0, 1.0]
    """
    n, _, height, width = x.shape
    if isinstance(window, list):
        if len(window) != n:
            raise ValueError(f"got {len(window)} windows for {n} samples")
        grids = [_grid(x, height, width, w) for w in window]
        return torch.cat([x, torch.stack(grids)], dim=1)
    grid = _grid(x, height, width, window)
    return torch.cat([x, grid[None].expand(n, 2, height, width)], dim=1)


def _grid(x, height, width, window):
    """The ``(2, height, width)`` relative rows and columns of ``window``."""
    top, left, full_height, full_width = window or (0, 0, height, width)
    rows = torch.arange(top, top + height, dtype=x.dtype, device=x.device)
    cols = torch.arange(left, left + width, dtype=x.dtype, device=x.device)
    rows = rows / max(full_height - 1, 1)
    cols = cols / max(full_width - 1, 1)
    return torch.stack(torch.meshgrid(rows, cols, indexing="ij"))


class DynaGuideNet(nn.Module):
    """Fully convolutional feature extractor trained from scratch on one image.

    ``n_blocks`` 3×3 blocks (conv · ReLU · BatchNorm; the first maps 3 → p channels, or
    5 → p with ``coordinates``, the others p → p), an optional residual connection from the first block's output to the last
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
    coordinates : bool, default=False
        Append each pixel's relative row and column (:func:`with_coordinates`) to the
        colour channels. The papers' network sees colour only, through a 5×5 window: it
        can express a region only as a colour class. With its position a pixel can be
        held to its guide segment while neighbouring colours decide where the segment's
        boundary runs.

    Examples
    --------
    >>> import torch
    >>> net = DynaGuideNet(n_features=8, n_clusters=5)
    >>> net(torch.rand(1, 3, 6, 7)).shape
    torch.Size([1, 5, 6, 7])
    """

    def __init__(self, n_features=100, n_clusters=100, n_blocks=2, residual=True,
                 coordinates=False):
        super().__init__()
        self.residual = residual
        self.coordinates = coordinates
        widths = [5 if coordinates else 3] + [n_features] * n_blocks
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

    def forward(self, x, window=None):
        """The response ``R'`` to ``x``; ``window`` places a strip of a larger image (see
        :func:`with_coordinates`), needed only with ``coordinates``."""
        if self.coordinates:
            x = with_coordinates(x, window)
        first = out = self.blocks[0](x)
        for block in self.blocks[1:]:
            out = block(out)
        if self.residual and len(self.blocks) > 1:
            out = out + first
        return self.response(out)


class NetworkBuilder(Pluggable, BaseEstimator, family="network"):
    """Base class of network recipes accepted by the estimator's ``network`` parameter.

    A builder is a light object holding only parameters (clones and pickles stay cheap; any
    pretrained weights it needs are loaded lazily and cached outside it). Calling it,
    ``builder(n_features, n_clusters)``, returns a freshly initialised :class:`torch.nn.Module`
    (the training loop seeds torch's generator first), so each image trains its own copy.
    Subclasses implement :meth:`build` and name themselves in the class statement to become
    reachable by string::

        class MyNet(NetworkBuilder, name="mine"):
            def build(self, n_features, n_clusters):
                ...  # (1, 3, h, w) in [0, 1] -> (1, n_clusters, h, w), with a `response` layer

    Examples
    --------
    A recipe for a small network of one 3x3 convolution; any name makes it reachable by string:

    >>> import torch
    >>> from torch import nn
    >>> from skdynaguide.training.network import NetworkBuilder
    >>> class OneConv(NetworkBuilder, name="one-conv-example"):
    ...     def build(self, n_features, n_clusters):
    ...         return nn.Sequential(nn.Conv2d(3, n_clusters, 3, padding=1),
    ...                              nn.BatchNorm2d(n_clusters))
    >>> OneConv()(8, 5)(torch.rand(1, 3, 6, 7)).shape
    torch.Size([1, 5, 6, 7])
    """

    def build(self, n_features, n_clusters):
        """A fresh module: p = ``n_features`` features into q = ``n_clusters`` responses."""
        raise NotImplementedError

    def __call__(self, n_features, n_clusters):
        return self.build(n_features, n_clusters)


class CNNBuilder(NetworkBuilder, name="cnn"):
    """The recipe of :class:`DynaGuideNet`, the small CNN of the papers (``network="cnn"``).

    By the name ``"cnn"`` the estimator creates it with its own ``n_blocks`` and
    ``residual``; an instance passed as ``network`` keeps the values it was given.

    Parameters
    ----------
    n_blocks : int, default=2
        Number of 3×3 conv blocks (at least 1).
    residual : bool, default=True
        Add the first block's output to the last 3×3 block's output.
    coordinates : bool, default=False
        Give the network each pixel's relative position as two more input channels (see
        :class:`DynaGuideNet`).

    Examples
    --------
    >>> from skdynaguide.training.network import CNNBuilder
    >>> net = CNNBuilder(n_blocks=3)(16, 8)
    >>> type(net).__name__, len(net.blocks)
    ('DynaGuideNet', 3)
    """

    def __init__(self, n_blocks=2, residual=True, coordinates=False):
        self.n_blocks = n_blocks
        self.residual = residual
        self.coordinates = coordinates

    def validate(self):
        check_scalar_int(self.n_blocks, "CNNBuilder.n_blocks", min_value=1)
        if not isinstance(self.residual, bool):
            raise TypeError(f"CNNBuilder.residual must be a bool, got {self.residual!r}")
        if not isinstance(self.coordinates, bool):
            raise TypeError(f"CNNBuilder.coordinates must be a bool, got {self.coordinates!r}")
        return self

    def build(self, n_features, n_clusters):
        return DynaGuideNet(n_features, n_clusters, n_blocks=self.n_blocks,
                            residual=self.residual, coordinates=self.coordinates)


def resolve_network(network, *, n_blocks=2, residual=True, coordinates=False):
    """Turn the estimator's ``network`` parameter into a factory ``(p, q) -> nn.Module``.

    A string names a registered :class:`NetworkBuilder`, created with its defaults except
    for the estimator's ``n_blocks``, ``residual`` and ``coordinates``, which shape ``"cnn"``
    (:class:`CNNBuilder`; ``"resnet18-fpn"`` is :class:`~skdynaguide.ResNetFPN`); a builder
    instance is validated and used as given; any other callable (e.g. a module class) is
    called as ``network(n_features, n_clusters)`` for every image. A module *instance* is
    refused: one set of weights cannot be trained afresh on every image.

    Examples
    --------
    >>> from skdynaguide.training.network import resolve_network
    >>> build = resolve_network("cnn", n_blocks=3)
    >>> type(build(16, 8)).__name__
    'DynaGuideNet'
    """
    if isinstance(network, nn.Module):
        raise TypeError(
            f"network must build a fresh module for every image; got the module instance "
            f"{type(network).__name__}(...). Pass its class or a function "
            "(n_features, n_clusters) -> nn.Module instead"
        )
    return NetworkBuilder.registry.resolve(
        network, params=dict(n_blocks=n_blocks, residual=residual, coordinates=coordinates),
        callables="(n_features, n_clusters) -> nn.Module")
