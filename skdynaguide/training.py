"""The per-image training loop of DynaGuide (SPEC §1, step 3), as a plain function.

The estimator validates and resolves its parameters, then calls :func:`segment_image` once
per image. Everything here works on one image and one freshly initialised network.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from ._image import relabel_consecutive
from .losses import FeatureSimilarityLoss, GuidanceLoss, ScribbleLoss
from .losses.guidance import IGNORE
from ._upsampling import upsampled_argmax
from .network import CNNBuilder
from .scribbles import resize_scribbles
from .silhouette import silhouette_count

__all__ = ["segment_image", "SegmentationResult", "training_shape"]

HISTORY_KEYS = ("loss", "similarity", "continuity", "guidance", "scribble", "modularity",
                "continuity_weight", "guidance_weight", "n_labels")


@dataclass
class SegmentationResult:
    """What training on one image produced (all numpy).

    Examples
    --------
    >>> import numpy as np
    >>> from skdynaguide.losses import HuberContinuity, FSFWeight
    >>> from skdynaguide.training import segment_image
    >>> image = np.zeros((8, 8, 3), dtype=np.float32); image[:, 4:] = 1.0
    >>> result = segment_image(image, seed=0, n_features=8, n_clusters=4, max_iter=3,
    ...                        continuity=HuberContinuity(), weighting=FSFWeight())
    >>> result.n_iter, result.stop_reason, result.converged
    (3, 'max_iter', False)
    """

    labels: np.ndarray
    n_iter: int
    stop_reason: str
    history: dict = field(default_factory=dict)
    min_labels: int | None = None  # the stopping rule's q' floor actually used
    silhouette_k: int | None = None

    @property
    def converged(self):
        return self.stop_reason != "max_iter"


# The layout of the network's weights and input during training. Channels-last (NHWC)
# convolutions are faster on CPU (oneDNN); benchmarks/bench_speed.py --ladder switches this
# to torch.contiguous_format to measure by how much (benchmarks/RESULTS.md).
_MEMORY_FORMAT = torch.channels_last


def training_shape(height, width, max_pixels):
    """(h, w) at which to train: the image size, shrunk to at most ``max_pixels`` pixels.

    Examples
    --------
    >>> from skdynaguide.training import training_shape
    >>> training_shape(321, 481, 25000)
    (129, 193)
    >>> training_shape(10, 10, None)
    (10, 10)
    """
    if max_pixels is None or height * width <= max_pixels:
        return height, width
    factor = math.sqrt(max_pixels / (height * width))
    train_h = max(1, round(height * factor))
    # a side clamped to one pixel leaves the whole budget to the other
    train_w = max(1, min(round(width * factor), max_pixels // train_h))
    return train_h, train_w


def _to_tensor(image, device):
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None].to(device)


def _downsample_guide(guide, shape, device):
    """The guide at the training size (nearest neighbour), a (1, h, w) long tensor."""
    target = torch.from_numpy(np.ascontiguousarray(guide)).to(device)
    if tuple(shape) != guide.shape:
        target = F.interpolate(target[None, None].float(), size=shape,
                               mode="nearest-exact")[0, 0].long()
    return target[None]


class _Objective:
    """The loss of one image at one step, ``L = L_sim + w(q')·L_con + g(q')·L_gp`` (+ DFC's
    scribble and DCN's modularity terms), with its targets fixed for the whole training.

    The per-image loop (:func:`segment_image`) and the batched one
    (:mod:`skdynaguide.batched`) both call it, so both compute the same terms in the same
    order on the same ``(1, q, h, w)`` response.
    """

    def __init__(self, *, continuity, weighting, matching, guide, n_guide, n_clusters,
                 guidance_weight, scribbles, scribble_weight, modularity, modularity_weight,
                 generator):
        self.continuity, self.weighting, self.matching = continuity, weighting, matching
        self.guide, self.n_guide, self.n_clusters = guide, n_guide, n_clusters
        self.guidance_weight = guidance_weight
        self.scribbles, self.scribble_weight = scribbles, scribble_weight
        self.scribbled = None if scribbles is None else scribbles != IGNORE
        self.modularity, self.modularity_weight = modularity, modularity_weight
        self.generator = generator
        self.similarity, self.guidance_loss = FeatureSimilarityLoss(), GuidanceLoss()
        self.scribble_loss = ScribbleLoss()

    def __call__(self, response, clusters, n_labels, floor=1, features=None):
        """``(loss, terms)``: the total loss tensor and this step's history entries (floats).

        ``floor`` bounds ``q'`` from below in ``w(q')`` (the silhouette phase); ``features``
        are those entering the response layer (needed by the modularity term only).
        """
        if self.scribbles is None:
            l_sim = self.similarity(response, clusters)
        else:  # DFC: feature similarity on the unscribbled pixels only
            l_sim = self.similarity(response, clusters.masked_fill(self.scribbled, IGNORE))
        l_con = self.continuity(response)
        w_con = self.weighting(max(n_labels, floor))
        loss = l_sim + w_con * l_con
        l_gp, w_gp = response.new_zeros(()), 0.0
        if self.guide is not None:
            target = self.matching(self.guide, self.n_guide, clusters, self.n_clusters)
            l_gp = self.guidance_loss(response, target)
            w_gp = self.guidance_weight / n_labels
            loss = loss + w_gp * l_gp
        l_scr = response.new_zeros(())
        if self.scribbles is not None:
            l_scr = self.scribble_loss(response, self.scribbles)
            loss = loss + self.scribble_weight * l_scr
        l_mod = response.new_zeros(())
        if self.modularity is not None:
            l_mod = self.modularity(features, response, self.generator)
            loss = loss + self.modularity_weight * l_mod
        terms = {}
        for key, value in (("loss", loss), ("similarity", l_sim), ("continuity", l_con),
                           ("guidance", l_gp), ("scribble", l_scr), ("modularity", l_mod),
                           ("continuity_weight", w_con), ("guidance_weight", w_gp),
                           ("n_labels", n_labels)):
            terms[key] = float(value.detach()) if torch.is_tensor(value) else float(value)
        return loss, terms


def segment_image(
    image,
    guide=None,
    *,
    seed,
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
    scribbles=None,
    scribble_weight=0.5,
    modularity=None,
    modularity_weight=0.0,
    silhouette_range=None,
    silhouette_samples=2000,
    max_iter=1000,
    min_labels=None,
    tol=None,
    n_iter_no_change=10,
    lr=0.1,
    momentum=0.9,
    max_pixels=None,
    progress=None,
):
    """Train a fresh network (by default :class:`~skdynaguide.network.DynaGuideNet`) on one image.

    Parameters
    ----------
    image : ndarray of shape (H, W, 3), float32 in [0, 1]
        A validated image (see :func:`skdynaguide._image.check_image`).
    guide : ndarray of shape (H, W) with labels 0..K-1, or None
        The static guidance map ``P``; None trains without the guidance term (DynaSeg/DFC).
    seed : int
        Seeds the network's initialisation, the modularity subsamples and the silhouette
        phase.
    network : callable or None
        ``network(n_features, n_clusters)`` returns the fresh module to train (see
        :func:`skdynaguide.network.resolve_network`); it must map ``(1, 3, h, w)`` to
        ``(1, n_clusters, h, w)``. None builds the small CNN with ``n_blocks`` and
        ``residual``.
    n_features, n_clusters : int
        Width p of the features entering the response layer and number q of responses.
    n_blocks, residual
        Depth and skip connection of the default small CNN (ignored otherwise).
    continuity : ContinuityLoss
        ``L_con``.
    weighting : DynamicWeight
        ``w(q')`` of the continuity term.
    matching : GuideMatching, optional
        How the guide is re-expressed in channel space each iteration (needed with a guide).
    guidance_weight : float, default=1.0
        Multiplier λ of the guidance weight: ``g(q') = λ / q'``.
    scribbles : ndarray of shape (H, W), or None
        DFC's user scribbles in channel space (see :func:`skdynaguide.scribbles.check_scribbles`):
        channel ids on scribbled pixels, ``UNLABELLED`` elsewhere. Adds
        ``scribble_weight · L_scr`` and restricts ``L_sim`` to the unscribbled pixels.
    scribble_weight : float, default=0.5
        Weight of ``L_scr`` (DFC: 0.5).
    modularity : ModularityLoss or None
        DCN's modularity term on the features feeding the response layer, added with weight
        ``modularity_weight``.
    silhouette_range : (int, int) or None
        DynaSeg's silhouette phase: at the first iteration the count of k-means clusters of
        the features with the best silhouette score in this range floors ``q'`` in
        ``weighting`` and in the ``min_labels`` test. None skips it.
    silhouette_samples : int, default=2000
        Pixels sampled for the silhouette phase.
    max_iter : int
        Maximum number of SGD steps.
    min_labels : int or None
        Stop as soon as the number of clusters ``q'`` is at most this.
    tol : float or None
        Stop when fewer than this fraction of pixels changed cluster over each of the last
        ``n_iter_no_change`` steps (None disables the test).
    max_pixels : int or None
        Train on the image shrunk to at most this many pixels; the final response is
        upsampled bilinearly to (H, W) before the argmax. None trains at full resolution.
    progress : callable, optional
        Called as ``progress(iteration, n_labels)`` after each step.

    Returns
    -------
    SegmentationResult

    Examples
    --------
    The estimator's loop without the estimator: a two-colour image, no guidance, L1 continuity
    with DFC's fixed weight:

    >>> import numpy as np
    >>> from skdynaguide.losses import FixedWeight, L1Continuity
    >>> from skdynaguide.training import segment_image
    >>> image = np.zeros((8, 8, 3), dtype=np.float32); image[:, 4:] = 1.0
    >>> result = segment_image(image, seed=0, n_features=8, n_clusters=4, max_iter=20,
    ...                        continuity=L1Continuity(), weighting=FixedWeight(5.0))
    >>> result.labels.shape, sorted(result.history)[:3]
    ((8, 8), ['continuity', 'continuity_weight', 'guidance'])
    """
    height, width = image.shape[:2]
    x = _to_tensor(image, device)
    train_h, train_w = training_shape(height, width, max_pixels)
    if (train_h, train_w) != (height, width):
        x = F.interpolate(x, size=(train_h, train_w), mode="bilinear", antialias=True,
                          align_corners=False)

    target_guide, n_guide = None, 0
    if guide is not None:
        n_guide = int(guide.max()) + 1
        target_guide = _downsample_guide(guide, (train_h, train_w), device)
    target_scribble = None
    if scribbles is not None:
        resized = resize_scribbles(scribbles, (train_h, train_w))
        target_scribble = torch.from_numpy(resized)[None].to(device)

    if network is None:
        network = CNNBuilder(n_blocks, residual)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = network(n_features, n_clusters)
    if (modularity is not None or silhouette_range) and not isinstance(
            getattr(net, "response", None), torch.nn.Module):
        raise ValueError(
            f"the modularity loss and the silhouette phase read the features entering the "
            f"network's 1x1 response layer, but {type(net).__name__} has no `response` submodule"
        )
    net.to(device, memory_format=_MEMORY_FORMAT).train()
    x = x.contiguous(memory_format=_MEMORY_FORMAT)
    if _is_uniform(image):
        # Every pixel identical: one segment is the only answer, and training would only
        # split the border pixels off through the convolutions' zero padding. The network
        # is still built and checked, so a broken configuration fails on every image alike.
        with torch.no_grad():
            _check_response(net(x), n_clusters, (train_h, train_w), net)
        return SegmentationResult(
            labels=np.zeros((height, width), dtype=np.int64), n_iter=0, stop_reason="uniform",
            history={key: np.zeros(0) for key in HISTORY_KEYS}, min_labels=min_labels)
    optimizer = torch.optim.SGD(net.parameters(), lr=lr, momentum=momentum)
    features = _capture_features(net) if (modularity is not None or silhouette_range) else None
    objective = _Objective(
        continuity=continuity, weighting=weighting, matching=matching, guide=target_guide,
        n_guide=n_guide, n_clusters=n_clusters, guidance_weight=guidance_weight,
        scribbles=target_scribble, scribble_weight=scribble_weight, modularity=modularity,
        modularity_weight=modularity_weight, generator=torch.Generator().manual_seed(seed))

    history = {key: [] for key in HISTORY_KEYS}
    stop_reason, previous, n_stable, last_clusters = "max_iter", None, 0, None
    n_iter, floor, silhouette_k = 0, 1, None
    for n_iter in range(1, max_iter + 1):
        optimizer.zero_grad(set_to_none=True)
        response = net(x).contiguous()  # NCHW: the losses' shifted slices are faster
        if n_iter == 1:
            _check_response(response, n_clusters, (train_h, train_w), net)
        clusters = response.argmax(1)
        n_labels = int(torch.unique(clusters).numel())
        if n_iter == 1 and silhouette_range:
            flat = features["value"].detach()[0].flatten(1).T.float().cpu().numpy()
            silhouette_k, _ = silhouette_count(flat, silhouette_range, silhouette_samples, seed)
            floor = silhouette_k
            min_labels = max(min_labels or 0, silhouette_k)

        loss, terms = objective(response, clusters, n_labels, floor,
                                None if features is None else features["value"])
        for key, value in terms.items():
            history[key].append(value)
        if progress is not None:
            progress(n_iter, n_labels)
        if not torch.isfinite(loss):
            # diverged (e.g. lr far too large): keep the last sane clustering, no update
            stop_reason = "nonfinite"
            break
        loss.backward()
        optimizer.step()
        last_clusters = clusters

        if min_labels is not None and n_labels <= min_labels:
            stop_reason = "min_labels"
            break
        if tol is not None:
            if previous is not None:
                changed = float((clusters != previous).float().mean())
                n_stable = n_stable + 1 if changed < tol else 0
                if n_stable >= n_iter_no_change:
                    stop_reason = "tol"
                    break
            previous = clusters

    with torch.no_grad():
        response = None if stop_reason == "nonfinite" else net(x)
    labels, stop_reason = final_labels(response, stop_reason, last_clusters, (height, width))

    return SegmentationResult(
        labels=relabel_consecutive(labels),
        n_iter=n_iter,
        stop_reason=stop_reason,
        history={k: np.asarray(v, dtype=np.float64) for k, v in history.items()},
        min_labels=min_labels,
        silhouette_k=silhouette_k,
    )


def final_labels(response, stop_reason, last_clusters, size):
    """Full-size labels from the final ``(1, q, h, w)`` response: ``(labels, stop_reason)``.

    The argmax of the response, upsampled bilinearly to ``size`` in channel chunks (q
    full-size maps would need q·H·W floats). A diverged run (``stop_reason`` "nonfinite",
    or a response that is not finite: its argmax would be arbitrary) keeps its last finite
    clusters instead, upsampled by nearest neighbour; all zeros if there were none.
    Shared by :func:`segment_image` and :mod:`skdynaguide.batched`.
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


def _is_uniform(image):
    return bool((image == image[:1, :1]).all())


def _check_response(response, n_clusters, shape, net):
    expected = (1, n_clusters, *shape)
    if tuple(response.shape) != expected:
        raise ValueError(
            f"the network {type(net).__name__} returned a response of shape "
            f"{tuple(response.shape)} for an input of shape (1, 3, {shape[0]}, {shape[1]}); "
            f"expected {expected}: n_clusters channels at the input's size"
        )


def _capture_features(net):
    """Keep, at every forward pass, the features entering the 1×1 response layer."""
    store = {}

    def hook(module, inputs):
        store["value"] = inputs[0]

    net.response.register_forward_pre_hook(hook)
    return store
