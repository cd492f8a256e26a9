"""Expressing the guide in the network's channel space: ``P`` → ``P̃``.

The guidance map ``P`` holds arbitrary segment ids 0..K-1 while the network's clusters are
channels 0..q-1 whose meaning drifts during training. Before each guidance loss the guide is
re-expressed as a per-pixel channel target ``P̃``. The strategies:

``"index"``
    The paper's formula taken literally: guide segment ``k`` ↔ channel ``k mod q``.
``"sorted"``
    The authors' released code: guide segment ``k`` ↔ the ``(k mod q')``-th smallest current
    cluster id. Arbitrary, kept for reproduction.
``"majority"``
    Each guide segment ↔ the cluster that currently covers most of it (many-to-one: guide
    segments may merge).
``"hungarian"``
    One-to-one assignment of guide segments to channels maximising the total overlap with
    the current clusters (``scipy.optimize.linear_sum_assignment``); segments left over when
    K > q fall back to their majority cluster. Keeps distinct guide segments apart while
    following the network's own labelling.
"""
from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from sklearn.base import BaseEstimator

from .._registry import Pluggable

__all__ = [
    "GuideMatching",
    "IndexMatching",
    "SortedMatching",
    "MajorityMatching",
    "HungarianMatching",
    "resolve_matching",
    "overlap_counts",
]


def overlap_counts(guide, clusters, n_guide, n_channels):
    """Pixel counts of every (guide segment, channel) pair, an (n_guide, n_channels) array.

    Examples
    --------
    >>> import torch
    >>> from skdynaguide.training.matching import overlap_counts
    >>> guide, clusters = torch.tensor([0, 0, 1, 1]), torch.tensor([2, 2, 2, 0])
    >>> overlap_counts(guide, clusters, 2, 3)
    array([[0, 0, 2],
           [1, 0, 1]])
    """
    flat = guide.reshape(-1) * n_channels + clusters.reshape(-1)
    counts = torch.bincount(flat, minlength=n_guide * n_channels)
    return counts.reshape(n_guide, n_channels).cpu().numpy()


class GuideMatching(Pluggable, BaseEstimator, family="matching"):
    """Base class: ``matching(guide, n_guide, clusters, n_channels)`` returns ``P̃``.

    ``guide`` and ``clusters`` are long tensors of the same shape; the result is a long
    tensor of channel ids of that shape (−1 would mark unguided pixels).

    Examples
    --------
    A strategy that sends every guide segment to channel 0 (useless, but it shows the
    interface):

    >>> import torch
    >>> from skdynaguide.training.matching import GuideMatching
    >>> class AllZero(GuideMatching, name="all-zero-example"):
    ...     def __call__(self, guide, n_guide, clusters, n_channels):
    ...         return torch.zeros_like(guide)
    >>> AllZero()(torch.tensor([0, 1]), 2, torch.tensor([3, 4]), 5).tolist()
    [0, 0]
    """

    def __call__(self, guide, n_guide, clusters, n_channels):
        raise NotImplementedError

    @staticmethod
    def _apply(mapping, guide):
        """Target tensor from a per-guide-segment channel table."""
        table = torch.as_tensor(np.asarray(mapping, dtype=np.int64), device=guide.device)
        return table[guide]


class IndexMatching(GuideMatching, name="index"):
    """Literal: guide segment ``k`` ↔ channel ``k mod q`` (the paper's ``CE(R', P)``).

    Examples
    --------
    >>> import torch
    >>> from skdynaguide.training.matching import IndexMatching
    >>> IndexMatching()(torch.tensor([0, 1, 5]), 6, torch.tensor([9, 9, 9]), 4).tolist()
    [0, 1, 1]
    """

    def __call__(self, guide, n_guide, clusters, n_channels):
        return guide % n_channels


class SortedMatching(GuideMatching, name="sorted"):
    """Authors' code: guide segment ``k`` ↔ the ``(k mod q')``-th smallest current cluster.

    Examples
    --------
    >>> import torch
    >>> from skdynaguide.training.matching import SortedMatching
    >>> SortedMatching()(torch.tensor([0, 1, 2]), 3, torch.tensor([7, 3, 3]), 10).tolist()
    [3, 7, 3]
    """

    def __call__(self, guide, n_guide, clusters, n_channels):
        present = torch.unique(clusters)
        return present[guide % present.numel()]


class MajorityMatching(GuideMatching, name="majority"):
    """Each guide segment ↔ the channel that currently covers most of its pixels.

    Examples
    --------
    >>> import torch
    >>> from skdynaguide.training.matching import MajorityMatching
    >>> guide, clusters = torch.tensor([0, 0, 0, 1]), torch.tensor([4, 4, 2, 4])
    >>> MajorityMatching()(guide, 2, clusters, 5).tolist()
    [4, 4, 4, 4]
    """

    def __call__(self, guide, n_guide, clusters, n_channels):
        counts = overlap_counts(guide, clusters, n_guide, n_channels)
        return self._apply(counts.argmax(axis=1), guide)


class HungarianMatching(GuideMatching, name="hungarian"):
    """One-to-one guide segments ↔ channels by maximum total overlap; extras by majority.

    Examples
    --------
    Unlike majority matching, the two guide segments stay distinct:

    >>> import torch
    >>> from skdynaguide.training.matching import HungarianMatching
    >>> guide = torch.tensor([0, 0, 0, 0, 1, 1, 1])
    >>> clusters = torch.tensor([4, 4, 4, 2, 4, 4, 2])
    >>> HungarianMatching()(guide, 2, clusters, 5).tolist()
    [4, 4, 4, 4, 2, 2, 2]
    >>> MajorityMatching()(guide, 2, clusters, 5).tolist()
    [4, 4, 4, 4, 4, 4, 4]
    """

    def __call__(self, guide, n_guide, clusters, n_channels):
        counts = overlap_counts(guide, clusters, n_guide, n_channels)
        mapping = counts.argmax(axis=1)
        rows, cols = linear_sum_assignment(counts, maximize=True)
        mapping[rows] = cols
        return self._apply(mapping, guide)


def resolve_matching(matching):
    """Turn the estimator's ``matching`` parameter into a strategy object.

    Examples
    --------
    >>> from skdynaguide.training.matching import resolve_matching
    >>> resolve_matching("hungarian")
    HungarianMatching()
    """
    return GuideMatching.registry.resolve(matching)
