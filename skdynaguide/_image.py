"""Validation and conversion of the images every public entry point accepts.

One convention for the whole library: an image is ``(H, W)`` grey, ``(H, W, 1)`` grey or
``(H, W, 3)`` RGB, channels last; ``uint8`` or ``uint16`` (scaled by their maximum) or
floating point in ``[0, 1]``. Everything is converted to a fresh ``float32 (H, W, 3)`` array
in ``[0, 1]``, so the caller's array is never modified.
"""
from __future__ import annotations

import hashlib
import math
import numbers

import numpy as np
from skimage.measure import label as _connected_components

__all__ = ["adjacent_pairs", "check_image", "check_images", "check_label_map",
           "fingerprint", "is_empty", "relabel_consecutive", "relabel_connected", "relabel_raster_order",
           "size_in_pixels"]

#: Per-channel RGB mean and standard deviation of ImageNet, the input normalisation of the
#: ImageNet-pretrained backbones (ResNet, DINO ViT): ``(rgb - mean) / std`` for rgb in [0, 1].
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

_ACCEPTED_DTYPES = "uint8, uint16 or floating point in [0, 1]"
_INTEGER_SCALE = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}


def check_image(image, *, name="image"):
    """Validate one image and return it as a new float32 ``(H, W, 3)`` array in [0, 1].

    Parameters
    ----------
    image : array-like of shape (H, W), (H, W, 1) or (H, W, 3)
        Grey or RGB image, channels last; ``uint8``, ``uint16`` or float in ``[0, 1]``.
    name : str, default="image"
        How the image is called in error messages.

    Returns
    -------
    rgb : ndarray of shape (H, W, 3), dtype float32
        A copy; grey images are repeated over three channels.

    Raises
    ------
    TypeError
        For non-numeric input or an unsupported dtype (bool, signed integers, complex).
    ValueError
        For a wrong number of dimensions or channels (RGBA included: composite or drop the
        alpha channel first), fewer than two pixels, NaN/inf, or floats outside ``[0, 1]``.

    Examples
    --------
    >>> import numpy as np
    >>> check_image(np.zeros((4, 5), dtype=np.uint8)).shape
    (4, 5, 3)
    """
    if isinstance(image, (str, bytes)) or image is None:
        raise TypeError(f"{name} must be an array, got {type(image).__name__}")
    try:
        array = np.asarray(image)
    except Exception as exc:  # ragged nested lists and the like
        raise TypeError(f"{name} could not be converted to an array: {exc}") from None
    dtype = array.dtype
    if not (dtype in _INTEGER_SCALE or np.issubdtype(dtype, np.floating)):
        raise TypeError(f"{name} has dtype {dtype}; accepted dtypes are {_ACCEPTED_DTYPES}")

    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim == 3 and array.shape[-1] == 4:
        raise ValueError(
            f"{name} has 4 channels (RGBA?); only grey or RGB images are accepted. Composite "
            "the alpha channel (skimage.color.rgba2rgb) or drop it (image[..., :3]) first."
        )
    if array.ndim == 3 and array.shape[-1] != 3:
        raise ValueError(
            f"{name} has shape {array.shape}: the last axis must hold 1 or 3 channels "
            "(channels-last layout (H, W, 3))"
        )
    if array.ndim not in (2, 3):
        raise ValueError(
            f"{name} must have shape (H, W) or (H, W, 3), got {array.ndim} dimension(s) "
            f"with shape {array.shape}"
        )
    height, width = array.shape[:2]
    if height * width < 2:
        raise ValueError(f"{name} has shape {array.shape}; at least 2 pixels are needed")

    if dtype in _INTEGER_SCALE:
        rgb = array.astype(np.float32) / np.float32(_INTEGER_SCALE[dtype])
    else:
        if not np.all(np.isfinite(array)):
            raise ValueError(f"{name} contains NaN or infinite values")
        low, high = float(array.min()), float(array.max())
        if low < 0.0 or high > 1.0:
            raise ValueError(
                f"floating point {name} must lie in [0, 1], got values in [{low:g}, {high:g}]; "
                "divide by 255 for 8-bit data, or pass it as uint8"
            )
        rgb = array.astype(np.float32, copy=True)
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[..., None], 3, axis=2)
    return np.ascontiguousarray(rgb)


def check_images(X):
    """Validate one image or a collection of images.

    Parameters
    ----------
    X : array-like or list of array-like
        One image ``(H, W)`` / ``(H, W, C)``, a batch array ``(N, H, W, C)``, or a list or
        tuple of images of any sizes.

    Returns
    -------
    images : list of ndarray
        Each a float32 ``(H, W, 3)`` copy in ``[0, 1]``.
    is_batch : bool
        False when ``X`` was a single image (callers then return a single label map).
    """
    if isinstance(X, (list, tuple)):
        if len(X) == 0:
            raise ValueError("X is an empty list: pass at least one image")
        return [check_image(im, name=f"image {i}") for i, im in enumerate(X)], True
    if isinstance(X, np.ndarray) and X.ndim == 4:
        if X.shape[0] == 0:
            raise ValueError("X is an empty batch of shape {}".format(X.shape))
        return [check_image(im, name=f"image {i}") for i, im in enumerate(X)], True
    return [check_image(X)], False


def check_label_map(labels, *, shape=None, name="labels"):
    """Validate an integer label map and return it as an int64 copy.

    Parameters
    ----------
    labels : array-like of shape (H, W)
        Integer labels (any integer dtype, or floats holding whole numbers).
    shape : tuple of int, optional
        Required ``(H, W)``.
    name : str, default="labels"
        How the map is called in error messages.
    """
    array = np.asarray(labels)
    if array.dtype == bool or not (
        np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)
    ):
        raise TypeError(f"{name} must hold integers, got dtype {array.dtype}")
    if array.ndim != 2:
        raise ValueError(f"{name} must be a 2-D (H, W) label map, got shape {array.shape}")
    if shape is not None and array.shape != tuple(shape):
        raise ValueError(f"{name} has shape {array.shape}, expected {tuple(shape)}")
    if np.issubdtype(array.dtype, np.floating):
        if not np.all(np.isfinite(array)) or np.any(array != np.round(array)):
            raise ValueError(f"{name} must hold whole numbers, got non-integer floats")
    return array.astype(np.int64, copy=True)


def check_scalar_int(value, name, *, min_value=None, allow_none=False):
    """A small integer-parameter check shared by the estimator and the providers."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {value!r}")
    if min_value is not None and value < min_value:
        raise ValueError(f"{name} must be >= {min_value}, got {value}")
    return int(value)


def check_scalar_float(value, name, *, min_value=None, strict=False, allow_none=False):
    """A small float-parameter check shared by the estimator, losses and providers."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if min_value is not None and (value < min_value or (strict and value == min_value)):
        op = ">" if strict else ">="
        raise ValueError(f"{name} must be {op} {min_value}, got {value}")
    return value


def relabel_consecutive(labels):
    """Map the values of an integer array onto 0..k-1 in order of first sorted value."""
    _, inverse = np.unique(labels, return_inverse=True)
    return inverse.reshape(labels.shape).astype(np.int64)


def relabel_connected(labels, *, connectivity=1):
    """Split every label into its connected components, labelled 0..k-1.

    Parameters
    ----------
    labels : array-like of shape (H, W)
        Integer label map.
    connectivity : {1, 2}, default=1
        1: 4-neighbourhood; 2: 8-neighbourhood.

    Examples
    --------
    >>> from skdynaguide._image import relabel_connected
    >>> relabel_connected([[0, 1, 0]]).tolist()
    [[0, 1, 2]]
    """
    array = check_label_map(labels)
    if connectivity not in (1, 2):
        raise ValueError(f"connectivity must be 1 or 2, got {connectivity!r}")
    return _connected_components(array, background=array.min() - 1, connectivity=connectivity) - 1


def size_in_pixels(min_size, area, name="min_size"):
    """A size given in pixels (an int) or as a fraction of ``area`` (a float in (0, 1)), as
    a whole number of pixels, validated."""
    if isinstance(min_size, bool) or not isinstance(min_size, numbers.Real):
        raise TypeError(
            f"{name} must be an int (pixels) or a float in (0, 1) (fraction of the image "
            f"area), got {min_size!r}"
        )
    if isinstance(min_size, numbers.Integral):
        if min_size < 0:
            raise ValueError(f"{name} must be >= 0 pixels, got {min_size}")
        return int(min_size)
    if not 0.0 < min_size < 1.0:
        raise ValueError(
            f"a float {name} is a fraction of the image area and must lie in (0, 1), got "
            f"{min_size!r}; pass a number of pixels as an int"
        )
    return math.ceil(float(min_size) * area)


def adjacent_pairs(components, n_components, connectivity=1):
    """Unique ``(a, b)`` pairs, ``a < b``, of components that touch somewhere."""
    shifts = [(components[:, :-1], components[:, 1:]), (components[:-1], components[1:])]
    if connectivity == 2:
        shifts += [(components[:-1, :-1], components[1:, 1:]),
                   (components[:-1, 1:], components[1:, :-1])]
    keys = []
    for first, second in shifts:
        first, second = first.ravel(), second.ravel()
        differ = first != second
        low = np.minimum(first[differ], second[differ])
        high = np.maximum(first[differ], second[differ])
        keys.append(low * n_components + high)
    keys = np.unique(np.concatenate(keys))
    return keys // n_components, keys % n_components


def fingerprint(rgb):
    """Content hash of a validated float32 image (same for the same pixels and shape)."""
    digest = hashlib.blake2b(np.ascontiguousarray(rgb).tobytes(), digest_size=16)
    digest.update(str(rgb.shape).encode())
    return digest.hexdigest()


def relabel_raster_order(segments):
    """Ids ``0..k-1`` numbered by the row-major position of each segment's first pixel."""
    flat = segments.ravel()
    values, first_index, inverse = np.unique(flat, return_index=True, return_inverse=True)
    rank = np.empty(len(values), dtype=np.int64)
    rank[np.argsort(first_index)] = np.arange(len(values))
    return rank[inverse].reshape(segments.shape)


def is_empty(X):
    """True for an empty list of images or an ``(0, H, W, C)`` array."""
    return (isinstance(X, (list, tuple)) and len(X) == 0) or (
        isinstance(X, np.ndarray) and X.ndim == 4 and X.shape[0] == 0)
