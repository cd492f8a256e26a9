"""Reading photographs and writing label maps and overlays as image files."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["read_image", "write_labels", "write_rgb", "BUNDLED_IMAGES", "IMAGE_SUFFIXES"]

#: Photographs bundled with scikit-image that the command line accepts by name.
BUNDLED_IMAGES = ("astronaut", "chelsea", "coffee", "camera", "rocket", "immunohistochemistry")
#: File suffixes treated as images when a folder is given.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp", ".ppm", ".pgm")


def read_image(source):
    """Read an image file (or a bundled scikit-image photo by name) as uint8 RGB.

    Palette, grey and 16-bit files are converted to 8-bit RGB; an alpha channel is dropped
    (files only: arrays with 4 channels are refused by the estimator).

    Parameters
    ----------
    source : str or path-like
        A file path, or one of :data:`BUNDLED_IMAGES` when no such file exists.

    Returns
    -------
    image : ndarray of shape (H, W, 3), dtype uint8
    """
    path = Path(source)
    if not path.exists():
        if str(source) in BUNDLED_IMAGES:
            import skimage.data

            image = getattr(skimage.data, str(source))()
            return np.repeat(image[..., None], 3, axis=2) if image.ndim == 2 else image[..., :3]
        raise FileNotFoundError(
            f"{source}: no such file (bundled photos by name: {', '.join(BUNDLED_IMAGES)})"
        )
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            if im.mode in ("I;16", "I;16B", "I;16L", "I"):
                array = np.asarray(im, dtype=np.float64)
                scale = 65535.0 if array.max() > 255 else 255.0
                grey = np.clip(array / scale * 255.0 + 0.5, 0, 255).astype(np.uint8)
                return np.repeat(grey[..., None], 3, axis=2)
            return np.asarray(im.convert("RGB"), dtype=np.uint8).copy()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise ValueError(f"{path}: not a readable image ({exc})") from None


def _atomic_save(path, save):
    """Write through a temporary file in the same folder, then rename over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        save(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def write_labels(path, labels):
    """Write a label map as a PNG holding the exact label values.

    8-bit when the labels fit in 0..255, else 16-bit (up to 65535); written atomically.
    """
    from PIL import Image

    labels = np.asarray(labels)
    if labels.min() < 0 or labels.max() > 65535:
        raise ValueError("label values must lie in 0..65535 to be stored as PNG")
    dtype = np.uint8 if labels.max() <= 255 else np.uint16
    array = np.ascontiguousarray(labels.astype(dtype))
    return _atomic_save(path, lambda tmp: Image.fromarray(array).save(tmp, format="PNG"))


def write_rgb(path, image):
    """Write a uint8 RGB image (format from the suffix), atomically."""
    from PIL import Image

    array = np.ascontiguousarray(np.asarray(image, dtype=np.uint8))
    fmt = Image.registered_extensions().get(Path(path).suffix.lower(), "PNG")
    return _atomic_save(path, lambda tmp: Image.fromarray(array).save(tmp, format=fmt))
