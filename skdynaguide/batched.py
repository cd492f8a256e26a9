"""Batched training: the per-image networks of several images trained together, in one pass.

DynaGuide trains a fresh small CNN on every image. On one device, B images of the same
training size can share every forward and backward pass: their B networks are stacked into
one :class:`StackedDynaGuideNet` of *grouped* convolutions (``groups=B``), image ``b``
entering on channels ``3b..3b+2`` and leaving on channels ``bq..bq+q-1``. Nothing is shared
between the images:

* each group of a grouped convolution sees only its own image's channels;
* BatchNorm normalises every channel over the pixels of its one image (the batch axis has
  length 1), so each image keeps its own statistics;
* the loss is the *sum* of the per-image losses, each computed exactly as the per-image loop
  computes it (:class:`skdynaguide.training._Objective`); the gradient of the sum with respect
  to image ``b``'s weights is the gradient of image ``b``'s loss, and SGD with momentum acts
  elementwise, so every image takes the step it would take alone.

The results equal those of :func:`~skdynaguide.training.segment_image` up to float rounding
(a grouped convolution adds up its terms in another order than B separate ones); the tests
check identical labels and close losses on small images.

Images are grouped in *buckets* of equal training size (:func:`batch_plan`), so no pixel of
padding ever enters a convolution, a BatchNorm statistic or a loss. With the default
``max_pixels`` every photo of one aspect ratio trains at the same size, whatever its
resolution, so real collections fall into few buckets. Stopping rules act per image: an image
that reaches ``min_labels`` or ``tol`` (or whose loss stops being finite) gets its final
labels at that step and leaves the stack, which then shrinks (its weights and momentum are
dropped, the others' kept as they are).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._image import relabel_consecutive
from .network import CNNBuilder, DynaGuideNet
from .scribbles import resize_scribbles
from .silhouette import silhouette_count
from .training import (
    HISTORY_KEYS,
    SegmentationResult,
    _downsample_guide,
    final_labels,
    _is_uniform,
    _Objective,
    _to_tensor,
    segment_image,
    training_shape,
)

__all__ = ["StackedDynaGuideNet", "batch_plan", "is_stackable", "segment_batch"]


class StackedDynaGuideNet(nn.Module):
    """B :class:`~skdynaguide.network.DynaGuideNet` side by side as one network.

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

    forward = DynaGuideNet.forward

    def select(self, keep):
        """A new stack of the networks at positions ``keep``, with copies of their weights."""
        stacked = StackedDynaGuideNet.__new__(StackedDynaGuideNet)
        nn.Module.__init__(stacked)
        stacked.n_nets = len(keep)
        stacked.residual = self.residual
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
        bias = None if self.bias is None else _chunks(self.bias.detach(), self.groups, keep)
        return _StackedConv(_chunks(self.weight.detach(), self.groups, keep), bias, len(keep),
                            self.padding, self.split)

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


def _chunks(tensor, n_groups, keep):
    """The rows of ``tensor`` belonging to the groups ``keep`` (groups split dimension 0)."""
    size = tensor.shape[0] // n_groups
    return torch.cat([tensor[g * size:(g + 1) * size] for g in keep])


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
    out.weight = nn.Parameter(_chunks(norm.weight.detach(), n_groups, keep))
    out.bias = nn.Parameter(_chunks(norm.bias.detach(), n_groups, keep))
    return out


def is_stackable(network):
    """Whether the ``network`` factory builds the plain small CNN, which can be stacked.

    Only :class:`~skdynaguide.network.DynaGuideNet` itself (``network="cnn"``) is: any other
    module (the ResNet-18 + FPN, a user's class, a subclass that changes ``forward``) would
    need its own grouped version, so those images train one by one.

    Examples
    --------
    >>> from skdynaguide import ResNetFPN
    >>> from skdynaguide.batched import is_stackable
    >>> from skdynaguide.network import resolve_network
    >>> is_stackable(resolve_network("cnn")), is_stackable(ResNetFPN(pretrained=False))
    (True, False)
    """
    if network is None:
        return True
    return type(network) is CNNBuilder


def batch_plan(shapes, batch_size, max_pixels):
    """Group image indices into batches of at most ``batch_size`` sharing a training size.

    Parameters
    ----------
    shapes : list of (int, int)
        Full image sizes ``(H, W)``.
    batch_size : int
    max_pixels : int or None
        As in :func:`~skdynaguide.training.training_shape`.

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


def segment_batch(
    images,
    guides,
    *,
    seeds,
    scribbles=None,
    min_labels=None,
    device="cpu",
    network=None,
    n_features=100,
    n_clusters=100,
    n_blocks=2,
    residual=True,
    continuity,
    weighting,
    matching=None,
    guidance_weight=1.0,
    scribble_weight=0.5,
    modularity=None,
    modularity_weight=0.0,
    silhouette_range=None,
    silhouette_samples=2000,
    max_iter=1000,
    tol=None,
    n_iter_no_change=10,
    lr=0.1,
    momentum=0.9,
    max_pixels=None,
    progress=None,
):
    """Train one fresh network per image, all images in the same passes.

    Equivalent to ``[segment_image(image, guide, seed=seed, ...) for ...]`` (up to float
    rounding) with the same keyword arguments, which mean what they mean there; the images
    must share their training size (:func:`batch_plan` groups them). Images of one uniform
    colour, and every image when ``network`` is not the small CNN (see
    :func:`is_stackable`) or with DCN's modularity term, go through
    :func:`~skdynaguide.training.segment_image` one by one: the modularity term's gradient
    comes out of the stacked layout about 1e-9 away from the per-image one, a difference the
    argmax targets amplify over the iterations, while every other term gives bitwise the
    per-image result on the CPU.

    Parameters
    ----------
    images : list of ndarray of shape (H, W, 3), float32 in [0, 1]
    guides : list of (ndarray of shape (H, W), or None)
        One guidance map per image.
    seeds : list of int
        One seed per image: image ``b`` is initialised exactly as ``segment_image`` with
        ``seed=seeds[b]`` initialises it.
    scribbles : list of (ndarray or None), or None
        DFC's scribbles per image.
    min_labels : int, None, or list of such
        The ``min_labels`` stopping rule, for all images or per image.
    progress : callable, optional
        Called as ``progress(iteration, n_labels)`` after each step, ``n_labels`` the list
        of ``q'`` of the images still training.

    Returns
    -------
    results : list of SegmentationResult
        One per image, in order.

    Examples
    --------
    Two images of one size, each with its own network, trained in the same passes:

    >>> import numpy as np
    >>> from skdynaguide.batched import segment_batch
    >>> from skdynaguide.losses import FSFWeight, HuberContinuity
    >>> left = np.zeros((8, 8, 3), dtype=np.float32); left[:, :4] = 1.0
    >>> top = np.zeros((8, 8, 3), dtype=np.float32); top[:4] = 1.0
    >>> results = segment_batch([left, top], [None, None], seeds=[0, 1], n_features=8,
    ...                         n_clusters=4, max_iter=5, continuity=HuberContinuity(),
    ...                         weighting=FSFWeight())
    >>> [r.labels.shape for r in results], [r.n_iter for r in results]
    ([(8, 8), (8, 8)], [5, 5])
    """
    n_images = len(images)
    if not (len(guides) == len(seeds) == n_images):
        raise ValueError(f"got {n_images} images, {len(guides)} guides and {len(seeds)} seeds")
    scribbles = [None] * n_images if scribbles is None else list(scribbles)
    floors = (list(min_labels) if isinstance(min_labels, (list, tuple))
              else [min_labels] * n_images)
    common = dict(device=device, network=network, n_features=n_features,
                  n_clusters=n_clusters, n_blocks=n_blocks, residual=residual,
                  continuity=continuity, weighting=weighting, matching=matching,
                  guidance_weight=guidance_weight, scribble_weight=scribble_weight,
                  modularity=modularity, modularity_weight=modularity_weight,
                  silhouette_range=silhouette_range, silhouette_samples=silhouette_samples,
                  max_iter=max_iter, tol=tol, n_iter_no_change=n_iter_no_change, lr=lr,
                  momentum=momentum, max_pixels=max_pixels)

    def alone(i):
        return segment_image(images[i], guides[i], seed=int(seeds[i]), scribbles=scribbles[i],
                             min_labels=floors[i], **common)

    results = [None] * n_images
    stack = []
    for i in range(n_images):
        if not is_stackable(network) or modularity is not None or _is_uniform(images[i]):
            results[i] = alone(i)
        else:
            stack.append(i)
    shapes = {training_shape(*images[i].shape[:2], max_pixels) for i in stack}
    if len(shapes) > 1:
        raise ValueError(f"images of one batch must share their training size, got {shapes}")
    if len(stack) == 1:
        results[stack[0]] = alone(stack[0])
    elif stack:
        trained = _train_stack([images[i] for i in stack], [guides[i] for i in stack],
                               [int(seeds[i]) for i in stack], [scribbles[i] for i in stack],
                               [floors[i] for i in stack], progress=progress, **common)
        for i, result in zip(stack, trained):
            results[i] = result
    return results


class _ImageState:
    """What the loop tracks for one image of the stack (as ``segment_image``'s locals)."""

    def __init__(self, size, min_labels, objective):
        self.size, self.min_labels, self.objective = size, min_labels, objective
        self.history = {key: [] for key in HISTORY_KEYS}
        self.previous, self.n_stable, self.last_clusters = None, 0, None
        self.floor, self.silhouette_k, self.n_iter = 1, None, 0
        self.stop_reason, self.result = "max_iter", None


def _train_stack(images, guides, seeds, scribbles, min_labels, *, device, network, n_features,
                 n_clusters, n_blocks, residual, continuity, weighting, matching,
                 guidance_weight, scribble_weight, modularity, modularity_weight,
                 silhouette_range, silhouette_samples, max_iter, tol, n_iter_no_change, lr,
                 momentum, max_pixels, progress):
    train_h, train_w = training_shape(*images[0].shape[:2], max_pixels)
    inputs, states = [], []
    for image, guide, seed, scribble, floor in zip(images, guides, seeds, scribbles, min_labels):
        x = _to_tensor(image, device)
        if (train_h, train_w) != image.shape[:2]:
            x = F.interpolate(x, size=(train_h, train_w), mode="bilinear", antialias=True,
                              align_corners=False)
        inputs.append(x)
        target_guide, n_guide = None, 0
        if guide is not None:
            n_guide = int(guide.max()) + 1
            target_guide = _downsample_guide(guide, (train_h, train_w), device)
        target_scribble = None
        if scribble is not None:
            resized = resize_scribbles(scribble, (train_h, train_w))
            target_scribble = torch.from_numpy(resized)[None].to(device)
        objective = _Objective(
            continuity=continuity, weighting=weighting, matching=matching, guide=target_guide,
            n_guide=n_guide, n_clusters=n_clusters, guidance_weight=guidance_weight,
            scribbles=target_scribble, scribble_weight=scribble_weight, modularity=modularity,
            modularity_weight=modularity_weight, generator=torch.Generator().manual_seed(seed))
        states.append(_ImageState(image.shape[:2], floor, objective))

    build = CNNBuilder(n_blocks, residual) if network is None else network
    nets = []
    for seed in seeds:  # each network initialised exactly as segment_image initialises it
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            nets.append(build(n_features, n_clusters))
    net = StackedDynaGuideNet(nets).to(device, memory_format=torch.channels_last).train()
    x = torch.cat(inputs, dim=1).contiguous(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(net.parameters(), lr=lr, momentum=momentum)
    need_features = modularity is not None or bool(silhouette_range)
    members = list(range(len(images)))  # stack position -> image

    for n_iter in range(1, max_iter + 1):
        features = _capture(net) if need_features else None
        optimizer.zero_grad(set_to_none=True)
        response = net(x).contiguous()  # NCHW, as segment_image's losses see it
        n_stack = len(members)
        responses = response.view(n_stack, n_clusters, train_h, train_w)
        all_clusters = responses.argmax(1)
        total, stepped, finished = None, [], []
        for position, member in enumerate(members):
            state = states[member]
            state.n_iter = n_iter
            image_response = responses[position:position + 1]
            clusters = all_clusters[position:position + 1]
            n_labels = int(torch.unique(clusters).numel())
            image_features = None
            if need_features:
                image_features = features["value"][:, position * n_features:
                                                   (position + 1) * n_features]
            if n_iter == 1 and silhouette_range:
                flat = image_features.detach()[0].flatten(1).T.float().cpu().numpy()
                state.silhouette_k, _ = silhouette_count(flat, silhouette_range,
                                                         silhouette_samples, seeds[member])
                state.floor = state.silhouette_k
                state.min_labels = max(state.min_labels or 0, state.silhouette_k)
            loss, terms = state.objective(image_response, clusters, n_labels, state.floor,
                                          image_features)
            for key, value in terms.items():
                state.history[key].append(value)
            if not torch.isfinite(loss):
                # diverged: keep the last sane clustering; no gradient reaches its weights
                state.stop_reason = "nonfinite"
                state.result = _finish(state, None)
                finished.append(position)
                continue
            total = loss if total is None else total + loss
            stepped.append((position, member, clusters, n_labels))
        if progress is not None:
            progress(n_iter, [n_labels for *_, n_labels in stepped])
        if total is not None:
            total.backward()
            optimizer.step()

        stopping = []
        for position, member, clusters, n_labels in stepped:
            state = states[member]
            state.last_clusters = clusters
            if state.min_labels is not None and n_labels <= state.min_labels:
                state.stop_reason = "min_labels"
            elif tol is not None:
                if state.previous is not None:
                    changed = float((clusters != state.previous).float().mean())
                    state.n_stable = state.n_stable + 1 if changed < tol else 0
                    if state.n_stable >= n_iter_no_change:
                        state.stop_reason = "tol"
                state.previous = clusters
            if state.stop_reason != "max_iter":
                stopping.append(position)
        if n_iter == max_iter:
            stopping = [p for p in range(n_stack) if p not in finished]
        if stopping:
            with torch.no_grad():
                final = net(x)
            for position in stopping:
                state = states[members[position]]
                state.result = _finish(
                    state, final[:, position * n_clusters:(position + 1) * n_clusters])
            finished.extend(stopping)
        if finished and len(finished) < n_stack:
            # the finished images leave the stack: the others go on with their own weights
            keep = [p for p in range(n_stack) if p not in finished]
            net, optimizer = _shrink(net, optimizer, keep, lr, momentum)
            x = _chunks(x.transpose(0, 1), n_stack, keep).transpose(0, 1)
            x = x.contiguous(memory_format=torch.channels_last)
            members = [members[p] for p in keep]
        elif finished:
            break

    return [
        SegmentationResult(
            labels=relabel_consecutive(state.result),
            n_iter=state.n_iter,
            stop_reason=state.stop_reason,
            history={k: np.asarray(v, dtype=np.float64) for k, v in state.history.items()},
            min_labels=state.min_labels,
            silhouette_k=state.silhouette_k,
        )
        for state in states
    ]


def _finish(state, response):
    """Full-size labels of one image from its final response, as ``segment_image`` does."""
    labels, state.stop_reason = final_labels(response, state.stop_reason, state.last_clusters,
                                             state.size)
    return labels


def _shrink(net, optimizer, keep, lr, momentum):
    """The stack restricted to positions ``keep``, with an optimizer carrying their momentum."""
    device = next(net.parameters()).device
    smaller = net.select(keep).to(device, memory_format=torch.channels_last)
    new_optimizer = torch.optim.SGD(smaller.parameters(), lr=lr, momentum=momentum)
    for old, new in zip(net.parameters(), smaller.parameters()):
        buffer = optimizer.state.get(old, {}).get("momentum_buffer")
        if buffer is not None:
            new_optimizer.state[new]["momentum_buffer"] = _chunks(buffer, net.n_nets, keep)
    return smaller, new_optimizer


def _capture(net):
    """A dict that the next forward pass fills with the features entering ``net.response``."""
    store = {}

    def hook(module, inputs):
        store["value"] = inputs[0]
        handle.remove()

    handle = net.response.register_forward_pre_hook(hook)
    return store
