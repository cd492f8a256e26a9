"""A trained network's clusters at an image's full size.

The network trains on the image shrunk to ``max_pixels``; its clusters for the full-size
image come either from its final training response upsampled (:func:`final_labels`) or from
one more pass over the full-size image (:func:`full_size_labels`, the default
``final_resolution="full"``). :func:`shrunk_labels` runs a network on an image it never saw
at a training size (the inductive mode's ``final_resolution="training"``). The output
pipeline's :class:`~skdynaguide.output.pipeline.FinalResolution` step calls these.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .._upsampling import upsampled_argmax
from .batched import StackedDynaGuideNet
from .config import training_shape
from .network import DynaGuideNet
from .step import MEMORY_FORMAT, network_input

__all__ = ["final_labels", "full_size_labels", "shrunk_labels"]


def final_labels(response, stop_reason, last_clusters, size):
    """Full-size labels from the final ``(1, q, h, w)`` response: ``(labels, stop_reason)``.

    The argmax of the response, upsampled bilinearly to ``size`` in channel chunks (q
    full-size maps would need q·H·W floats). A diverged run (``stop_reason`` "nonfinite",
    or a response that is not finite: its argmax would be arbitrary) keeps its last finite
    clusters instead, upsampled by nearest neighbour; all zeros if there were none.

    Examples
    --------
    >>> import torch
    >>> from skdynaguide.training import final_labels
    >>> response = torch.tensor([[[[0.0, 1.0]], [[1.0, 0.0]]]])  # 2 channels, 1x2 pixels
    >>> labels, reason = final_labels(response, "max_iter", None, (1, 4))
    >>> labels.tolist(), reason
    ([[1, 1, 0, 0]], 'max_iter')
    >>> final_labels(None, "nonfinite", None, (1, 2))[0].tolist()
    [[0, 0]]
    """
    height, width = size
    with torch.no_grad():
        if response is not None and not bool(torch.isfinite(response).all()):
            stop_reason = "nonfinite"
        if stop_reason == "nonfinite":
            if last_clusters is None:
                return np.zeros((height, width), dtype=np.int64), stop_reason
            labels = F.interpolate(last_clusters[None].float(), size=(height, width),
                                   mode="nearest-exact")[0, 0].long()
        elif tuple(response.shape[-2:]) != (height, width):
            response = response.contiguous(memory_format=torch.channels_last)
            return upsampled_argmax(response[0], (height, width)), stop_reason
        else:
            labels = response.argmax(1)[0]
    return labels.cpu().numpy(), stop_reason


def full_size_labels(net, image, *, max_bytes=2**28):
    """The argmax of a trained network's response to the full-size ``image``.

    The network runs in evaluation mode (BatchNorm with the running statistics gathered in
    training), so the response of a pixel does not depend on which other pixels share the
    pass. The small CNN (:class:`~skdynaguide.training.network.DynaGuideNet` and its stacked form)
    therefore runs in strips of rows, each with a margin as wide as its receptive field,
    whose working memory stays near ``max_bytes`` whatever the image size: the labels
    equal those of one pass over the whole image. Other networks run on the whole image
    at once. Returns None if the response is not finite.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skdynaguide.training.network import DynaGuideNet
    >>> from skdynaguide.training import full_size_labels
    >>> net = DynaGuideNet(n_features=4, n_clusters=3, coordinates=True)
    >>> image = np.random.default_rng(0).random((9, 5, 3), dtype=np.float32)
    >>> whole = full_size_labels(net, image)
    >>> bool((full_size_labels(net, image, max_bytes=1) == whole).all()), whole.shape
    (True, (9, 5))
    """
    device = next(net.parameters()).device
    x = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None].to(device)
    height, width = image.shape[:2]
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad():
            if not isinstance(net, (DynaGuideNet, StackedDynaGuideNet)):
                response = net(x.contiguous(memory_format=MEMORY_FORMAT))
                if not bool(torch.isfinite(response).all()):
                    return None
                return response.argmax(1)[0].cpu().numpy()
            margin = len(net.blocks)  # one pixel per 3x3 convolution
            channels = max(net.response[0].weight.shape[0], net.blocks[0][0].weight.shape[0])
            rows = max(1, max_bytes // (4 * 4 * channels * width))
            labels = np.empty((height, width), dtype=np.int64)
            for top in range(0, height, rows):
                bottom = min(height, top + rows)
                start, stop = max(0, top - margin), min(height, bottom + margin)
                strip = x[:, :, start:stop].contiguous(memory_format=MEMORY_FORMAT)
                response = net(strip, window=(start, 0, height, width))
                response = response[:, :, top - start:bottom - start]
                if not bool(torch.isfinite(response).all()):
                    return None
                labels[top:bottom] = response.argmax(1)[0].cpu().numpy()
            return labels
    finally:
        net.train(was_training)


def shrunk_labels(net, image, max_pixels):
    """The argmax of ``net`` (in evaluation mode) on ``image`` shrunk to ``max_pixels``, its
    response upsampled bilinearly to the full size; None if it is not finite.

    Examples
    --------
    >>> import numpy as np
    >>> from skdynaguide.training import shrunk_labels
    >>> from skdynaguide.training.network import DynaGuideNet
    >>> net = DynaGuideNet(n_features=4, n_clusters=3)
    >>> shrunk_labels(net, np.zeros((20, 30, 3), np.float32), max_pixels=60).shape
    (20, 30)
    """
    shape = training_shape(*image.shape[:2], max_pixels)
    device = next(net.parameters()).device
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad():
            response = net(network_input(image, shape, device))
    finally:
        net.train(was_training)
    labels, reason = final_labels(response, "max_iter", None, image.shape[:2])
    return None if reason == "nonfinite" else labels
