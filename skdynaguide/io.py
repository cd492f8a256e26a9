"""Reading photographs and writing label maps and overlays as image files."""
from __future__ import annotations

import glob
import os
import secrets
from pathlib import Path

import numpy as np

__all__ = ["read_image", "write_labels", "write_rgb", "read_annotations", "atomic_save",
           "remove_partial_files", "BUNDLED_IMAGES", "IMAGE_SUFFIXES", "LABEL_SUFFIXES"]

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

    Examples
    --------
    >>> from skdynaguide.io import read_image
    >>> read_image("camera").shape
    (512, 512, 3)
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


def atomic_save(path, save):
    """Write through a temporary file in the same folder, then rename over ``path``.

    The rename (:func:`os.replace`) is atomic on one file system, so ``path`` is either
    absent, its old content, or complete: a process killed at any moment leaves at most a
    hidden ``.<name>.<random>.part`` file, which :func:`remove_partial_files` deletes.

    Parameters
    ----------
    path : str or path-like
        The file to write; its folder is created if needed.
    save : callable
        ``save(tmp)`` writes the whole content to the temporary file name ``tmp``.

    Returns
    -------
    path : Path

    Examples
    --------
    >>> import os, tempfile
    >>> from pathlib import Path
    >>> from skdynaguide.io import atomic_save
    >>> path = atomic_save(os.path.join(tempfile.mkdtemp(), "notes.txt"),
    ...                    lambda tmp: Path(tmp).write_text("done"))
    >>> path.read_text(), sorted(os.listdir(path.parent))
    ('done', ['notes.txt'])
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _new_partial_file(path)
    try:
        save(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def _new_partial_file(path):
    """Create an empty ``.<name>.<random>.part`` file beside ``path``; return its name.

    Unlike :func:`tempfile.mkstemp`, which creates its files readable by their owner alone
    (0600), the file is created with mode 0666 less the process's umask, as ``open(path,
    "w")`` would create ``path`` itself: the renamed result is as readable to the rest of a
    group sharing the folder as any other file the user writes there.
    """
    for _ in range(100):
        tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.part"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return str(tmp)
    raise FileExistsError(f"could not create a temporary file beside {path}")


def remove_partial_files(path):
    """Delete the temporary files a killed :func:`write_labels` / :func:`write_rgb` of
    ``path`` left behind; returns how many were removed.

    Examples
    --------
    >>> import os, tempfile
    >>> from skdynaguide.io import remove_partial_files
    >>> path = os.path.join(tempfile.mkdtemp(), "x_labels.png")
    >>> remove_partial_files(path)
    0
    """
    path = Path(path)
    removed = 0
    if path.parent.is_dir():
        for partial in path.parent.glob(f".{glob.escape(path.name)}.*.part"):
            try:
                partial.unlink()
                removed += 1
            except FileNotFoundError:  # another process cleaned it first
                pass
    return removed


def write_labels(path, labels):
    """Write a label map as a PNG holding the exact label values.

    8-bit when the labels fit in 0..255, else 16-bit (up to 65535); written atomically.

    Examples
    --------
    >>> import os, tempfile
    >>> from skdynaguide.io import read_annotations, write_labels
    >>> path = write_labels(os.path.join(tempfile.mkdtemp(), "x_labels.png"), [[0, 300]])
    >>> read_annotations(path)[0].tolist()
    [[0, 300]]
    """
    from PIL import Image

    labels = np.asarray(labels)
    if labels.min() < 0 or labels.max() > 65535:
        raise ValueError("label values must lie in 0..65535 to be stored as PNG")
    dtype = np.uint8 if labels.max() <= 255 else np.uint16
    array = np.ascontiguousarray(labels.astype(dtype))
    return atomic_save(path, lambda tmp: Image.fromarray(array).save(tmp, format="PNG"))


def write_rgb(path, image):
    """Write a uint8 RGB image (format from the suffix), atomically.

    Examples
    --------
    >>> import os, tempfile
    >>> from skdynaguide.io import read_image, write_rgb
    >>> path = write_rgb(os.path.join(tempfile.mkdtemp(), "x.png"), np.zeros((2, 3, 3)))
    >>> read_image(path).shape
    (2, 3, 3)
    """
    from PIL import Image

    array = np.ascontiguousarray(np.asarray(image, dtype=np.uint8))
    fmt = Image.registered_extensions().get(Path(path).suffix.lower(), "PNG")
    return atomic_save(path, lambda tmp: Image.fromarray(array).save(tmp, format=fmt))


#: File suffixes read as label maps by :func:`read_annotations`.
LABEL_SUFFIXES = (".png", ".tif", ".tiff", ".bmp", ".pgm", ".npy", ".npz", ".mat")


def read_annotations(path):
    """Read the label map(s) stored in a file, exactly, as a list of int64 arrays.

    One file may hold several human annotations of the same image (BSD500 has 4–9).

    Parameters
    ----------
    path : str or path-like
        One of :data:`LABEL_SUFFIXES`: an image file holding the label values (8- or 16-bit,
        single channel, as written by :func:`write_labels`); ``.npy`` with an ``(H, W)`` or
        ``(n_annotations, H, W)`` integer array; ``.npz`` with such an array under the key
        ``"seg"`` (else its only array); or a BSD500 ``groundTruth`` ``.mat`` file (every
        annotation's ``Segmentation``).

    Returns
    -------
    annotations : list of ndarray of shape (H, W), dtype int64

    Examples
    --------
    >>> import tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "truth.npy")
    >>> np.save(path, np.array([[0, 0, 7]]))
    >>> read_annotations(path)
    [array([[0, 0, 7]])]
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in LABEL_SUFFIXES:
        raise ValueError(f"{path}: unknown label file type (expected one of {LABEL_SUFFIXES})")
    if suffix == ".npy":
        stack = np.load(path, allow_pickle=False)
    elif suffix == ".npz":
        with np.load(path, allow_pickle=False) as data:
            if "seg" in data.files:
                stack = data["seg"]
            elif len(data.files) == 1:
                stack = data[data.files[0]]
            else:
                raise ValueError(f"{path}: holds {data.files}; expected a key 'seg' or one array")
    elif suffix == ".mat":
        from scipy.io import loadmat

        truth = loadmat(path).get("groundTruth")
        if truth is None:
            raise ValueError(f"{path}: no 'groundTruth' (the BSD500 .mat layout)")
        stack = [np.asarray(cell["Segmentation"][0, 0]) for cell in truth.ravel()]
    else:
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(path) as im:
                stack = np.asarray(im)
        except (UnidentifiedImageError, OSError, SyntaxError) as exc:
            raise ValueError(f"{path}: not a readable label image ({exc})") from None
        if stack.ndim != 2:
            raise ValueError(f"{path}: a label image must have one channel, got shape "
                             f"{stack.shape}")
    stack = [np.asarray(a) for a in (stack if isinstance(stack, list) or np.ndim(stack) == 3
                                     else [stack])]
    for annotation in stack:
        if annotation.ndim != 2 or not np.issubdtype(annotation.dtype, np.integer):
            raise ValueError(f"{path}: label maps must be 2-D integer arrays, got "
                             f"{annotation.dtype} of shape {annotation.shape}")
    return [a.astype(np.int64) for a in stack]
