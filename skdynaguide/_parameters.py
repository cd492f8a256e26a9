"""The estimators' parameters, declared once: the values each one accepts.

Both estimators take their ``_parameter_constraints`` from :data:`CONSTRAINTS` (by name, so
a parameter they share is checked the same way in both), and the command line's flags
parse and check their values through :func:`flag_type` against the same declarations. The
defaults are the estimators' signatures (scikit-learn reads them there); the command line
passes only the flags given, so it has no defaults of its own.
"""
from __future__ import annotations

import argparse
from numbers import Integral, Real

import numpy as np
import torch

from ._image import check_scalar_int
from ._validation import Interval, StrOptions, validate_params

__all__ = ["CONSTRAINTS", "ACCEPTED", "constraints", "flag_type", "check_silhouette"]

# The pluggable families (guidance, continuity, weighting, matching, network, boundaries) are
# left to their registries, which accept names registered at any time and list them when a
# value is refused; silhouette_range and the n_jobs = 0 hint are checked by the estimator.
CONSTRAINTS: dict = {
    "guidance": "no_validation",
    "continuity": "no_validation",
    "weighting": "no_validation",
    "alpha": [Interval(Real, 0, None, closed="neither")],
    "network": "no_validation",
    "n_features": [Interval(Integral, 1, None, closed="left")],
    "n_clusters": [Interval(Integral, 2, None, closed="left")],
    "n_blocks": [Interval(Integral, 1, None, closed="left")],
    "residual": ["boolean"],
    "coordinates": ["boolean", StrOptions({"auto"})],
    "guidance_weight": [Interval(Real, 0, None, closed="left")],
    "matching": "no_validation",
    "scribble_weight": [Interval(Real, 0, None, closed="left")],
    "modularity_weight": [Interval(Real, 0, None, closed="left")],
    "modularity_samples": [Interval(Integral, 2, None, closed="left")],
    "silhouette": ["boolean"],
    "silhouette_range": "no_validation",
    "silhouette_samples": [Interval(Integral, 3, None, closed="left")],
    "max_iter": [Interval(Integral, 1, None, closed="left")],
    "partial_iter": [Interval(Integral, 1, None, closed="left")],
    "min_labels": [Interval(Integral, 1, None, closed="left"), None],
    "tol": [Interval(Real, 0, None, closed="left"), None],
    "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
    "lr": [Interval(Real, 0, None, closed="neither")],
    "momentum": [Interval(Real, 0, None, closed="left")],
    "max_pixels": [Interval(Integral, 4, None, closed="left"), None],
    "crop_size": [Interval(Integral, 1, None, closed="left"), None],
    "final_resolution": [StrOptions({"full", "training"})],
    "min_size": [Interval(Integral, 0, None, closed="left"),
                 Interval(Real, 0, 1, closed="neither"), None],
    "snap": [Interval(Integral, 0, None, closed="left"), None],
    "keep_edges": [Interval(Real, 0, 1, closed="right"), None],
    "boundaries": "no_validation",
    "output": [StrOptions({"hierarchy", "redraw"})],
    "threshold": [Interval(Real, 0, None, closed="left")],
    "n_segments": [Interval(Integral, 1, None, closed="left"), None],
    "network_weight": [Interval(Real, 0, 1, closed="left")],
    "device": [str, torch.device],
    "precision": [StrOptions({"auto", "float32", "bfloat16"})],
    "random_state": [Interval(Integral, 0, 2**32 - 1, closed="both"),
                     np.random.RandomState, None],
    "verbose": [Interval(Integral, 0, None, closed="left")],
    "n_jobs": [Interval(Integral, None, None, closed="neither"), None],
    "batch_size": [Interval(Integral, 1, None, closed="left")],
}


# What a value of a parameter with several forms means, for messages about a wrong one.
ACCEPTED = {
    "min_size": "a whole number of pixels (>= 0), a fraction of the image area in (0, 1), or "
                "none",
    "snap": "a whole number of pixels (>= 0) or none",
    "keep_edges": "a quantile in (0, 1] or none",
    "n_segments": "a whole number of segments (>= 1) or none",
    "network_weight": "a weight in [0, 1)",
    "output": "hierarchy or redraw",
}


def constraints(*names, **overrides):
    """The declared constraints of ``names``, with ``overrides`` replacing some.

    Examples
    --------
    >>> from skdynaguide._parameters import constraints
    >>> sorted(constraints("snap", "keep_edges"))
    ['keep_edges', 'snap']
    """
    return {**{name: CONSTRAINTS[name] for name in names}, **overrides}


def flag_type(name):
    """An argparse ``type`` for the parameter ``name``: ``"none"`` is None, then an int, a
    float or the text itself, checked against the declaration.

    Examples
    --------
    >>> from skdynaguide._parameters import flag_type
    >>> flag_type("min_size")("0.001"), flag_type("snap")("none")
    (0.001, None)
    """
    def parse(text):
        value = None
        if text.lower() != "none":
            for kind in (int, float, str):
                try:
                    value = kind(text)
                    break
                except ValueError:
                    continue
        try:
            validate_params({name: CONSTRAINTS[name]}, {name: value})
        except (TypeError, ValueError) as exc:
            message = f"must be {ACCEPTED[name]}, got {text}" if name in ACCEPTED else str(exc)
            raise argparse.ArgumentTypeError(message) from None
        return value

    parse.__name__ = name  # argparse names the type in its messages
    return parse


def check_silhouette(params):
    """``silhouette_range`` is a pair within ``n_clusters``, below ``silhouette_samples``
    (what a per-parameter constraint cannot say).

    Examples
    --------
    >>> from skdynaguide._parameters import check_silhouette
    >>> check_silhouette(dict(silhouette=True, silhouette_range=(2, 10), n_clusters=8,
    ...                       silhouette_samples=2000))
    Traceback (most recent call last):
    ...
    ValueError: silhouette_range=(2, 10) reaches beyond n_clusters=8, the most clusters the network can express
    """
    k_range = params["silhouette_range"]
    if not (isinstance(k_range, (tuple, list)) and len(k_range) == 2):
        raise TypeError(f"silhouette_range must be a pair (min, max), got {k_range!r}")
    low = check_scalar_int(k_range[0], "silhouette_range[0]", min_value=2)
    high = check_scalar_int(k_range[1], "silhouette_range[1]", min_value=low)
    if not params["silhouette"]:
        return
    if high > params["n_clusters"]:
        raise ValueError(
            f"silhouette_range={tuple(k_range)} reaches beyond n_clusters={params['n_clusters']}, "
            "the most clusters the network can express"
        )
    if params["silhouette_samples"] <= high:
        raise ValueError(
            f"silhouette_samples={params['silhouette_samples']} must exceed the largest count "
            f"of silhouette_range, {high}"
        )
