"""The learned boundary map: a small network trained on BSD500, shipped with the package."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .._image import check_scalar_float
from ._network import FEATURE_SIGMAS, ModelFileError, input_features, read_model
from .base import BoundaryDetector
from .gradient import SOFTNESS

__all__ = ["LearnedBoundaries", "ModelFileError", "load_boundary_model", "DEFAULT_MODEL"]

#: The shipped weights, trained by ``benchmarks/train_boundaries.py`` on BSD500 train.
DEFAULT_MODEL = Path(__file__).resolve().parent / "models" / "boundary_net.npz"

# Loaded networks by (path, size, modification time), so that editing a file reloads it
# and detectors stay light objects that store only their parameters.
_CACHE = {}


def load_boundary_model(path=None):
    """Load (and cache) a boundary network file; ``None`` means the shipped model.

    Returns
    -------
    net : BoundaryNet
        In eval mode.
    meta : dict
        The architecture and the training record stored with the weights.

    Raises
    ------
    ModelFileError
        When the file is missing, truncated, corrupted or of another format version.

    Examples
    --------
    >>> from skdynaguide.boundaries import load_boundary_model
    >>> net, meta = load_boundary_model()
    >>> sorted(meta)
    ['architecture', 'training']
    """
    path = Path(DEFAULT_MODEL if path is None else path)
    try:
        stat = os.stat(path)
    except OSError:
        raise ModelFileError(f"boundary model file not found: {path}") from None
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _CACHE:
        _CACHE.clear()  # one model at a time is all anyone uses
        _CACHE[key] = read_model(path)
    return _CACHE[key]


def gradient_strength(features):
    """The ``"gradient"`` detector's map, from the gradient channels of the input features."""
    grads = features[3:].reshape(len(FEATURE_SIGMAS), 3, *features.shape[1:])
    magnitude = np.sqrt((grads ** 2).sum(axis=1)).mean(axis=0)
    return magnitude / (magnitude + np.float32(SOFTNESS))


class LearnedBoundaries(BoundaryDetector, name="learned"):
    """Boundary map from a small convolutional network trained on human boundaries.

    The network sees the image in Lab with its multi-scale gradient magnitudes and was
    trained on BSD500's human annotations (see ``benchmarks/train_boundaries.py``); it
    learns which colour edges people draw as object boundaries and which are texture.
    Runs on the CPU, no download.

    Parameters
    ----------
    model_path : str, path or None, default=None
        A model file written by the training script; None uses the shipped one. Pass your
        own to use a network trained on other data.
    gradient_weight : float, default=0.25
        Share of the weight-free colour gradient (:class:`GradientBoundaries` at its default
        scales, computed from the network's own input features) averaged into the network's
        map. The gradient catches faint boundaries the network misses and spreads the map's
        values more evenly over [0, 1]; set 0 for the network alone.
    nms : bool, default=True
        Thin the map to one-pixel ridges by non-maximum suppression. Turn it off for a
        smooth map (as input to a watershed, for instance).

    Examples
    --------
    >>> import numpy as np
    >>> from skdynaguide.boundaries import LearnedBoundaries
    >>> image = np.zeros((40, 40), dtype=np.uint8); image[:, 20:] = 255
    >>> prob = LearnedBoundaries()(image)
    >>> prob.shape, prob.dtype
    ((40, 40), dtype('float32'))
    """

    def __init__(self, model_path=None, gradient_weight=0.25, nms=True):
        self.model_path = model_path
        self.gradient_weight = gradient_weight
        self.nms = nms

    def validate(self):
        weight = check_scalar_float(self.gradient_weight, "gradient_weight", min_value=0.0)
        if weight > 1:
            raise ValueError(f"gradient_weight must lie in [0, 1], got {weight}")
        return self

    def strength(self, image):
        net, _ = load_boundary_model(self.model_path)
        features = input_features(image)
        prob = net.predict(features)
        weight = np.float32(self.gradient_weight)
        if weight > 0:
            prob = (1 - weight) * prob + weight * gradient_strength(features)
        return prob
