"""Dynamic weights ``w(q')`` of the continuity term (DynaGuide and DynaSeg).

``q'`` is the number of distinct clusters in the current argmax. DynaGuide and DynaSeg-FSF
use ``w = q'/α`` (strong smoothing while there are many clusters, fading as they merge);
DynaSeg-SCF uses ``w = α/q'``; DFC a fixed ``μ``.
"""
from __future__ import annotations

from sklearn.base import BaseEstimator

from .._image import check_scalar_float
from .._registry import Pluggable

__all__ = ["DynamicWeight", "FSFWeight", "SCFWeight", "FixedWeight", "resolve_weighting"]


class DynamicWeight(Pluggable, BaseEstimator, family="weighting"):
    """Base class: ``weight(n_labels)`` returns the continuity weight for ``q'`` clusters.

    Examples
    --------
    A weight that halves DFC's fixed one whenever there are more than 10 clusters:

    >>> from skdynaguide.losses import DynamicWeight
    >>> class Stepped(DynamicWeight, name="stepped-example"):
    ...     def __init__(self, mu=5.0):
    ...         self.mu = mu
    ...     def __call__(self, n_labels):
    ...         return self.mu / 2 if n_labels > 10 else self.mu
    >>> Stepped()(20), Stepped()(5)
    (2.5, 5.0)
    """

    def __call__(self, n_labels):
        raise NotImplementedError


class _AlphaWeight(DynamicWeight):
    def __init__(self, alpha=15.0):
        self.alpha = alpha

    def validate(self):
        check_scalar_float(self.alpha, f"{type(self).__name__}.alpha", min_value=0, strict=True)
        return self


class FSFWeight(_AlphaWeight, name="fsf"):
    """DynaSeg's "feature similarity focused" weight ``w = q'/α`` (DynaGuide's default).

    Parameters
    ----------
    alpha : float, default=15
        The paper's α; larger values weaken the continuity term.

    Examples
    --------
    >>> FSFWeight(alpha=15)(30)
    2.0
    """

    def __call__(self, n_labels):
        return n_labels / float(self.alpha)


class SCFWeight(_AlphaWeight, name="scf"):
    """DynaSeg's "spatial continuity focused" weight ``w = α/q'`` (paper: α = 50).

    Parameters
    ----------
    alpha : float, default=50
        The paper's α; larger values strengthen the continuity term.

    Examples
    --------
    >>> SCFWeight(alpha=50)(10)
    5.0
    """

    def __init__(self, alpha=50.0):
        super().__init__(alpha=alpha)

    def __call__(self, n_labels):
        return float(self.alpha) / n_labels


class FixedWeight(DynamicWeight):
    """DFC's fixed continuity weight ``w = μ`` (the DFC paper uses μ = 1..5).

    Parameters
    ----------
    mu : float, default=5
        The weight, whatever the number of clusters.

    Examples
    --------
    >>> FixedWeight(mu=5)(42)
    5.0
    """

    def __init__(self, mu=5.0):
        self.mu = mu

    def validate(self):
        check_scalar_float(self.mu, "FixedWeight.mu", min_value=0)
        return self

    def __call__(self, n_labels):
        return float(self.mu)


def resolve_weighting(weighting, alpha):
    """Turn the estimator's ``weighting`` and ``alpha`` parameters into a weight object.

    ``"fsf"`` / ``"scf"`` take the estimator's ``alpha``; a number is a fixed μ (DFC); a
    :class:`DynamicWeight` instance is used as given (its own parameters, ``alpha`` unused).

    Examples
    --------
    >>> from skdynaguide.losses import resolve_weighting
    >>> resolve_weighting("fsf", alpha=15)(30)
    2.0
    >>> resolve_weighting(5, alpha=15)(30)
    5.0
    """
    return DynamicWeight.registry.resolve(weighting, params=dict(alpha=alpha), number=FixedWeight)
