"""Declarative parameter validation: scikit-learn's constraints, this library's messages.

An estimator lists its parameters' constraints in ``_parameter_constraints`` as
scikit-learn's own (:mod:`sklearn.utils._param_validation`: ``Interval``, ``StrOptions``,
``"boolean"``, types, ``None``...); :func:`validate_params` checks them with scikit-learn's
machinery and words a failure as the rest of the library does: a ``TypeError`` when the
value is of the wrong kind, a ``ValueError`` when it is of the right kind but out of range,
each naming the parameter, what it accepts and what it got.
"""
from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval as _SklearnInterval
from sklearn.utils._param_validation import StrOptions, make_constraint

__all__ = ["Interval", "StrOptions", "validate_params"]


class Interval(_SklearnInterval):
    """scikit-learn's ``Interval``, refusing bools (``True`` is no count or rate here).

    Examples
    --------
    >>> from numbers import Integral
    >>> Interval(Integral, 1, None, closed="left").is_satisfied_by(True)
    False
    """

    def is_satisfied_by(self, val):
        return not isinstance(val, (bool, np.bool_)) and super().is_satisfied_by(val)


def validate_params(constraints, params):
    """Check ``params`` against ``constraints`` (a ``_parameter_constraints`` dict).

    Parameters without an entry, or whose entry is ``"no_validation"``, are left to the
    code that resolves them.

    Raises
    ------
    TypeError
        For a value of a kind no constraint accepts.
    ValueError
        For a number of an accepted kind outside every accepted range (NaN and infinities
        included).

    Examples
    --------
    >>> from numbers import Real
    >>> validate_params({"alpha": [Interval(Real, 0, None, closed="neither")]}, {"alpha": 0})
    Traceback (most recent call last):
    ...
    ValueError: alpha must be > 0, got 0
    """
    for name, value in params.items():
        allowed = constraints.get(name, "no_validation")
        if isinstance(allowed, str) and allowed == "no_validation":
            continue
        if not any(make_constraint(spec).is_satisfied_by(value) for spec in allowed):
            raise _error(name, value, allowed)


def _error(name, value, allowed):
    ranges = [spec for spec in allowed if isinstance(spec, Interval)
              and isinstance(value, spec.type) and not isinstance(value, (bool, np.bool_))]
    if ranges:  # a number of the right kind, out of range
        if isinstance(value, Real) and not np.isfinite(value):
            return ValueError(f"{name} must be finite, got {value}")
        return ValueError(f"{name} must be {' or '.join(map(_range, ranges))}, got {value}")
    kinds = []
    # a string of the right kind, not among the options: a wrong value, not a wrong type
    error = (ValueError if isinstance(value, str)
             and any(isinstance(spec, StrOptions) for spec in allowed) else TypeError)
    for spec in allowed:
        kind = _kind(spec)
        if kind not in kinds:
            kinds.append(kind)
    return error(f"{name} must be {' or '.join(kinds)}, got {value!r}")


def _range(interval):
    low = None if interval.left is None else (
        ">= " if interval.closed in ("left", "both") else "> ") + f"{interval.left}"
    high = None if interval.right is None else (
        "<= " if interval.closed in ("right", "both") else "< ") + f"{interval.right}"
    return " and ".join(bound for bound in (low, high) if bound) or "a number"


def _kind(spec):
    if spec is None:
        return "None"
    if isinstance(spec, Interval):
        return "an int" if spec.type is Integral else "a number"
    if isinstance(spec, StrOptions):
        return f"one of {sorted(spec.options)}"
    if (isinstance(spec, str) and spec == "boolean") or spec is bool:
        return "a bool"
    if spec is str:
        return "a string"
    if spec is callable:
        return "a callable"
    if isinstance(spec, type):
        module = spec.__module__.split(".")[0]
        return f"a {spec.__name__}" if module == "builtins" else f"a {module}.{spec.__name__}"
    return str(make_constraint(spec))
