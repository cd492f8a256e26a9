"""Dynamic weights ``w(q')`` of the continuity term (SPEC §1 and DynaSeg).

``q'`` is the number of distinct clusters in the current argmax. DynaGuide and DynaSeg-FSF
use ``w = q'/α`` (strong smoothing while there are many clusters, fading as they merge);
DynaSeg-SCF uses ``w = α/q'``; DFC a fixed ``μ``.
"""
from __future__ import annotations

import numbers

from sklearn.base import BaseEstimator

from .._image import check_scalar_float
from .._registry import Registry

__all__ = ["DynamicWeight", "FSFWeight", "SCFWeight", "FixedWeight", "resolve_weighting"]


class DynamicWeight(BaseEstimator):
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

    registry = Registry("weighting")

    def __init_subclass__(cls, name=None, **kwargs):
        super().__init_subclass__(**kwargs)
        if name is not None:
            DynamicWeight.registry.add(name, cls)

    def __call__(self, n_labels):
        raise NotImplementedError

    def validate(self):
        """Check the parameters; called by the estimator in ``fit``. Returns self."""
        return self


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
    if isinstance(weighting, str):
        weight = DynamicWeight.registry.create(weighting)
        if hasattr(weight, "alpha"):
            weight.set_params(alpha=alpha)
        return weight.validate()
    if isinstance(weighting, numbers.Real) and not isinstance(weighting, bool):
        return FixedWeight(mu=weighting).validate()
    if isinstance(weighting, DynamicWeight):
        return weighting.validate()
    raise TypeError(
        f"weighting must be one of {DynamicWeight.registry.names()}, a number (fixed mu) "
        f"or a DynamicWeight instance, got {weighting!r}"
    )
