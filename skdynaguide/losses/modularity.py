"""DCN's modularity loss: soft cluster assignments against a feature-affinity graph.

``L_mod = -Q`` with the modularity of the soft partition

``Q = 1/(2m) Σ_ij (A_ij - k_i k_j / 2m) δ_ij``

over the graph of pixels with affinities ``A_ij = max(0, cos(f_i, f_j))`` (self-affinities
included, as the formula sums over all pairs), degrees ``k_i = Σ_j A_ij``,
``2m = Σ_ij A_ij`` and the soft co-membership ``δ_ij = s_i · s_j`` of the softmax responses
``s``. High modularity puts pixels of similar features in the same clusters beyond what
their degrees alone predict; the null model ``k_i k_j / 2m`` makes both the one-cluster and
the all-different partitions score zero, so it cannot be won by collapsing.
"""
from __future__ import annotations

import torch

from .._image import check_scalar_int

__all__ = ["ModularityLoss", "modularity_loss"]


def modularity_loss(features, assignments):
    """``-Q`` of soft ``assignments`` on the cosine-affinity graph of ``features``.

    Uses ``Σ_ij A_ij s_i·s_j = tr(Sᵀ A S)`` and ``Σ_ij k_i k_j s_i·s_j = |Sᵀ k|²``, so the
    only n×n array is ``A`` itself.

    Parameters
    ----------
    features : tensor of shape (n, d)
        One feature vector per node (pixel).
    assignments : tensor of shape (n, q)
        Soft assignments, each row a probability vector.

    Returns
    -------
    loss : scalar tensor
        ``-Q``, in ``[-1, 1/2]``; 0 when the graph has no edges.

    Examples
    --------
    Two pairs of identical features, each pair in its own cluster:

    >>> import torch
    >>> f = torch.tensor([[1.0, 0], [1, 0], [0, 1], [0, 1]])
    >>> s = torch.tensor([[1.0, 0], [1, 0], [0, 1], [0, 1]])
    >>> float(modularity_loss(f, s))
    -0.5
    """
    unit = torch.nn.functional.normalize(features, dim=1)
    affinity = (unit @ unit.T).clamp_min(0.0)
    degrees = affinity.sum(dim=1)
    two_m = degrees.sum()
    if float(two_m.detach()) <= 0.0:
        return features.new_zeros(()) + 0.0 * assignments.sum()
    within = ((affinity @ assignments) * assignments).sum()
    expected = ((assignments.T @ degrees) ** 2).sum() / two_m
    return -(within - expected) / two_m


class ModularityLoss:
    """DCN's modularity loss on a random subsample of the pixels.

    The affinity graph of all N pixels would be N×N; the loss is computed on the subgraph of
    ``n_samples`` pixels drawn uniformly without replacement at each call, a cheap
    stochastic estimate (``n_samples ** 2`` affinities, a fresh sample every step).

    Parameters
    ----------
    n_samples : int, default=1024
        Pixels drawn per call (all of them if the image has fewer).

    Examples
    --------
    >>> import torch
    >>> features, response = torch.randn(1, 8, 16, 16), torch.randn(1, 5, 16, 16)
    >>> loss = ModularityLoss(n_samples=64)(features, response, torch.Generator().manual_seed(0))
    >>> -0.5 <= float(loss) <= 0.5
    True
    """

    def __init__(self, n_samples=1024):
        self.n_samples = check_scalar_int(n_samples, "n_samples", min_value=2)

    def __call__(self, features, response, generator=None):
        """``-Q`` of ``softmax(response)`` on the graph of ``features``' sampled pixels.

        Parameters
        ----------
        features : tensor of shape (1, d, H, W)
            Per-pixel features (the input of the network's response layer).
        response : tensor of shape (1, q, H, W)
            Logits of the soft assignment.
        generator : torch.Generator, optional
            Draws the pixel subsample (on the CPU).
        """
        n_pixels = features.shape[-2] * features.shape[-1]
        flat_features = features.reshape(features.shape[1], n_pixels).T
        flat_response = response.reshape(response.shape[1], n_pixels).T
        if n_pixels > self.n_samples:
            index = torch.randperm(n_pixels, generator=generator)[: self.n_samples]
            index = index.to(features.device)
            flat_features, flat_response = flat_features[index], flat_response[index]
        return modularity_loss(flat_features, flat_response.softmax(dim=1))
