"""One SGD step of the network on a batch: the only place where gradients are taken.

Both loops use it: the per-image loop (:mod:`skdynaguide.training.loop`, B ≥ 1 images
stacked, one network each) and the collection loop (:mod:`skdynaguide.training.collection`,
one network over random crops). Each computes its own losses from the response of
:func:`forward` and passes their sum to :func:`gradient_step`.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["MEMORY_FORMAT", "network_input", "new_optimizer", "forward", "gradient_step",
           "check_response"]

# The layout of the network's weights and input during training. Channels-last (NHWC)
# convolutions are faster on CPU (oneDNN); benchmarks/bench_speed.py --ladder switches this
# to torch.contiguous_format to measure by how much.
MEMORY_FORMAT = torch.channels_last


def network_input(image, shape, device):
    """The ``(1, 3, h, w)`` input of the network: the image at its training size.

    Parameters
    ----------
    image : ndarray of shape (H, W, 3), float32 in [0, 1]
    shape : (int, int)
        The training size ``(h, w)``; the image is shrunk to it bilinearly, antialiased.
    device : str or torch.device

    Examples
    --------
    >>> import numpy as np
    >>> from skdynaguide.training import network_input
    >>> network_input(np.zeros((8, 6, 3), np.float32), (4, 3), "cpu").shape
    torch.Size([1, 3, 4, 3])
    """
    x = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None].to(device)
    if tuple(shape) != image.shape[:2]:
        x = F.interpolate(x, size=tuple(shape), mode="bilinear", antialias=True,
                          align_corners=False)
    return x


def new_optimizer(net, config):
    """SGD with the configuration's learning rate and momentum, no weight decay (the papers').

    Examples
    --------
    >>> from skdynaguide.training.config import TrainingConfig
    >>> from skdynaguide.training.network import DynaGuideNet
    >>> from skdynaguide.training.step import new_optimizer
    >>> from skdynaguide.losses import FSFWeight, HuberContinuity
    >>> config = TrainingConfig(continuity=HuberContinuity(), weighting=FSFWeight(), lr=0.05)
    >>> new_optimizer(DynaGuideNet(n_features=4, n_clusters=3), config).defaults["lr"]
    0.05
    """
    return torch.optim.SGD(net.parameters(), lr=config.lr, momentum=config.momentum)


def forward(net, x, config, *, n_images, window=None):
    """The network's response to ``x`` in training, as float32 for the losses.

    The forward pass runs at ``config.precision`` (:meth:`TrainingConfig.autocast`); the
    response comes back in float32 and contiguous (NCHW), where the losses' shifted slices
    are faster, and its shape is checked: ``n_images`` blocks of ``n_clusters`` channels at
    the input's size, along the batch axis (crops) or the channel axis (stacked networks).

    Parameters
    ----------
    net : torch.nn.Module
    x : torch.Tensor of shape (N, C, h, w)
    config : TrainingConfig
    n_images : int
        Images in the pass: crops along the batch axis, or networks stacked along the
        channels (then N = 1).
    window : list of tuple, optional
        Where each crop lies in its image, for a position-aware network.

    Returns
    -------
    response : torch.Tensor, float32

    Examples
    --------
    >>> import torch
    >>> from skdynaguide.losses import FSFWeight, HuberContinuity
    >>> from skdynaguide.training.config import TrainingConfig
    >>> from skdynaguide.training.network import DynaGuideNet
    >>> from skdynaguide.training.step import forward
    >>> config = TrainingConfig(continuity=HuberContinuity(), weighting=FSFWeight(),
    ...                         n_clusters=3)
    >>> net = DynaGuideNet(n_features=4, n_clusters=3)
    >>> forward(net, torch.zeros(2, 3, 5, 6), config, n_images=2).shape
    torch.Size([2, 3, 5, 6])
    """
    with config.autocast():
        response = net(x, window=window) if window is not None else net(x)
    response = response.float().contiguous()
    check_response(response, x, n_images, config.n_clusters, net)
    return response


def gradient_step(optimizer, loss):
    """Back-propagate ``loss`` and take one optimizer step (gradients zeroed first).

    Examples
    --------
    >>> import torch
    >>> from skdynaguide.training.step import gradient_step
    >>> weight = torch.nn.Parameter(torch.tensor([1.0]))
    >>> gradient_step(torch.optim.SGD([weight], lr=0.5), (weight ** 2).sum())
    >>> weight.item()
    0.0
    """
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def check_response(response, x, n_images, n_clusters, net):
    """Refuse a response that is not ``n_clusters`` channels per image at the input's size.

    Examples
    --------
    >>> import torch
    >>> from skdynaguide.training.step import check_response
    >>> x = torch.zeros(1, 3, 4, 4)
    >>> check_response(torch.zeros(1, 5, 4, 4), x, 1, 5, torch.nn.Identity())
    >>> check_response(torch.zeros(1, 5, 2, 2), x, 1, 5, torch.nn.Identity())
    Traceback (most recent call last):
    ...
    ValueError: the network Identity returned a response of shape (1, 5, 2, 2) for an input of shape (1, 3, 4, 4); expected (1, 5, 4, 4): n_clusters channels at the input's size
    """
    if x.shape[0] == 1:
        expected = (1, n_images * n_clusters, *x.shape[-2:])
    else:
        expected = (x.shape[0], n_clusters, *x.shape[-2:])
    if tuple(response.shape) != expected:
        raise ValueError(
            f"the network {type(net).__name__} returned a response of shape "
            f"{tuple(response.shape)} for an input of shape {tuple(x.shape)}; "
            f"expected {expected}: n_clusters channels at the input's size"
        )
