"""Segmenting videos and image sequences frame by frame.

:func:`read_frames` reads the frames of a video file, of a folder of images or of a list of
image files, in order; :func:`segment_frames` turns frames into one label map each, in one of
three modes:

* ``"warm"``: one :class:`~skdynaguide.InductiveSegmenter` trained on the first frame, then
  a few more steps (:meth:`~skdynaguide.InductiveSegmenter.partial_fit`) on each next one,
  so its classes follow the scene and keep their meaning from frame to frame;
* ``"shared"``: one :class:`~skdynaguide.InductiveSegmenter` trained once on a subsample of
  the frames, then a forward pass per frame (:meth:`~skdynaguide.InductiveSegmenter.predict_classes`);
* ``"independent"``: a fresh :class:`~skdynaguide.DynaGuideSegmenter` run per frame, the
  per-image method applied to every frame, with segment ids that mean nothing across frames.

Reading video files needs PyAV and imageio (``pip install "skdynaguide[video]"``).
"""
from __future__ import annotations

import math
import re
from itertools import islice
from numbers import Integral
from pathlib import Path

import numpy as np
from sklearn.base import clone

from .inductive import InductiveSegmenter
from .io import IMAGE_SUFFIXES, read_image
from .segmenter import DynaGuideSegmenter

__all__ = ["read_frames", "segment_frames", "frame_sources", "rgb_frame", "MODES"]

#: The modes of :func:`segment_frames`.
MODES = ("warm", "shared", "independent")

_INSTALL = 'pip install "skdynaguide[video]"'


def read_frames(source):
    """The frames of a video file, a folder of images or a list of image files, in order.

    Parameters
    ----------
    source : str, path-like, or list of str or path-like
        A video file (any container and codec FFmpeg decodes, read through imageio's
        ``pyav`` plugin), a single image file (a sequence of one frame), a folder whose
        image files (suffixes :data:`skdynaguide.io.IMAGE_SUFFIXES`, not recursively) are
        the frames, in natural order of their names (``frame_2`` before ``frame_10``), or a
        list of image files in the order given.

    Returns
    -------
    frames : iterator of ndarray of shape (H, W, 3), dtype uint8
        The frames as RGB (grey frames repeated over three channels, alpha dropped),
        decoded or read one at a time as the iterator advances.

    Raises
    ------
    FileNotFoundError
        ``source`` (or a file of the list) does not exist.
    ValueError
        A folder holds no image file, a list is empty, or a file is neither an image nor a
        readable video. The source is checked (and a video's first frame decoded) when
        ``read_frames`` is called; an image of a folder or list that cannot be read, or a
        later video frame that cannot be decoded, raises when the iterator reaches it.
    ImportError
        ``source`` is a video file and PyAV or imageio is not installed.

    See Also
    --------
    segment_frames : One label map per frame.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from skdynaguide.io import write_rgb
    >>> from skdynaguide.video import read_frames
    >>> folder = tempfile.mkdtemp()
    >>> for i in (1, 2, 10):
    ...     path = write_rgb(os.path.join(folder, f"frame_{i}.png"),
    ...                      np.full((4, 6, 3), i, dtype=np.uint8))
    >>> [int(frame[0, 0, 0]) for frame in read_frames(folder)]  # natural order
    [1, 2, 10]
    >>> next(read_frames(folder)).shape
    (4, 6, 3)

    A video file is read the same way (``imageio.v3.imwrite`` with ``plugin="pyav"``
    writes one):

    >>> import imageio.v3 as iio
    >>> video = os.path.join(folder, "clip.mp4")
    >>> iio.imwrite(video, np.zeros((3, 16, 16, 3), dtype=np.uint8), plugin="pyav",
    ...             codec="libx264", fps=10)
    >>> [frame.shape for frame in read_frames(video)]
    [(16, 16, 3), (16, 16, 3), (16, 16, 3)]
    """
    kind, where = frame_sources(source)
    if kind == "images":
        return (rgb_frame(read_image(path)) for path in where)
    return _video_frames(where)


def frame_sources(source):
    """What :func:`read_frames` reads from ``source``, checked but not read.

    Parameters
    ----------
    source : str, path-like, or list of str or path-like
        As in :func:`read_frames`.

    Returns
    -------
    kind : {"video", "images"}
    where : Path or list of Path
        The video file, or the image files in the order they are read (a folder's in
        natural order of their names).

    Raises
    ------
    FileNotFoundError, ValueError, TypeError
        As :func:`read_frames` (a video's frames are not decoded here).

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from skdynaguide.io import write_rgb
    >>> from skdynaguide.video import frame_sources
    >>> folder = tempfile.mkdtemp()
    >>> for name in ("b10.png", "b9.png"):
    ...     _ = write_rgb(os.path.join(folder, name), np.zeros((2, 2, 3)))
    >>> kind, where = frame_sources(folder)
    >>> kind, [path.name for path in where]
    ('images', ['b9.png', 'b10.png'])
    """
    if isinstance(source, (list, tuple)):
        if not source:
            raise ValueError("the list of image files is empty")
        paths = [Path(item) for item in source]
        for path in paths:
            if not path.is_file():
                raise FileNotFoundError(f"{path}: no such file")
        return "images", paths
    if not isinstance(source, str) and not hasattr(source, "__fspath__"):
        raise TypeError(f"source must be a path (str or path-like) or a list of image "
                        f"paths, got {type(source).__name__}")
    path = Path(source)
    if path.is_dir():
        paths = sorted((p for p in path.iterdir()
                        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES),
                       key=_natural_key)
        if not paths:
            raise ValueError(f"{path}: the folder holds no image file (suffixes "
                             f"{', '.join(IMAGE_SUFFIXES)})")
        return "images", paths
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return "images", [path]
    return "video", path


def _natural_key(path):
    """Sort key reading runs of digits as numbers: ``frame_2`` < ``frame_10``."""
    parts = re.split(r"(\d+)", path.name)
    return [int(part) if part.isdigit() else part.lower() for part in parts], path.name


def _video_frames(path):
    """The frames of a video file, its first one decoded now to check the file."""
    try:
        import av
        import imageio.v3 as iio
    except ImportError as exc:
        raise ImportError(f"reading the video file {path} needs PyAV and imageio ({exc}): "
                          f"{_INSTALL}") from None
    # imageio reports a file FFmpeg cannot open as OSError, PyAV a broken stream as its
    # FFmpegError (some of which are also ValueError)
    unreadable = (OSError, ValueError, av.error.FFmpegError)
    frames = iio.imiter(path, plugin="pyav")
    try:
        first = next(frames, None)
    except unreadable as exc:
        raise ValueError(f"{path}: neither an image (suffixes {', '.join(IMAGE_SUFFIXES)}) "
                         f"nor a readable video ({exc})") from None
    if first is None:
        raise ValueError(f"{path}: the video holds no frame")
    return _decoded(path, first, frames, unreadable)


def _decoded(path, first, frames, unreadable):
    yield rgb_frame(first)
    index = 1
    while True:
        try:
            frame = next(frames)
        except StopIteration:
            return
        except unreadable as exc:
            raise ValueError(f"{path}: frame {index} cannot be decoded ({exc})") from None
        yield rgb_frame(frame)
        index += 1


def rgb_frame(frame):
    """A frame as uint8 RGB: grey repeated over three channels, alpha dropped.

    Parameters
    ----------
    frame : array-like of shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4)

    Returns
    -------
    frame : ndarray of shape (H, W, 3), dtype uint8

    Examples
    --------
    >>> import numpy as np
    >>> from skdynaguide.video import rgb_frame
    >>> rgb_frame(np.full((2, 3), 7, dtype=np.uint8)).shape
    (2, 3, 3)
    """
    frame = np.asarray(frame)
    if frame.ndim == 3 and frame.shape[2] == 1:
        frame = frame[..., 0]
    if frame.ndim == 2:
        frame = np.repeat(frame[..., None], 3, axis=2)
    elif frame.ndim != 3 or frame.shape[2] not in (3, 4):
        raise ValueError(f"a frame must be grey (H, W) or colour (H, W, 3), got shape "
                         f"{frame.shape}")
    return np.ascontiguousarray(frame[..., :3], dtype=np.uint8)


def segment_frames(frames, mode="warm", *, segmenter=None, warm_frames=1, shared_frames=8,
                   warm_guidance=False):
    """One label map per frame of a sequence, in order.

    Parameters
    ----------
    frames : iterable of array-like of shape (H, W) or (H, W, 3)
        The frames, in any dtype the estimators accept (e.g. :func:`read_frames`). Modes
        ``"warm"`` and ``"independent"`` take them one at a time, so a long video streams
        through; ``"shared"`` reads them all into memory first (it trains on a subsample
        spread over the whole sequence before labelling the first frame).
    mode : {"warm", "shared", "independent"}, default="warm"
        How the frames are segmented:

        * ``"warm"``: :meth:`~skdynaguide.InductiveSegmenter.fit` on the first
          ``warm_frames`` frames (``max_iter`` steps), then for each next frame
          :meth:`~skdynaguide.InductiveSegmenter.partial_fit` (``partial_iter`` steps,
          without guidance unless ``warm_guidance``) and its ``classes_``. Class ids
          keep their meaning from frame to frame while the network follows the changing
          scene.
        * ``"shared"``: one :meth:`~skdynaguide.InductiveSegmenter.fit` on at most
          ``shared_frames`` frames spread evenly over the sequence, then
          :meth:`~skdynaguide.InductiveSegmenter.predict_classes` (a forward pass) on every frame.
          Class ids mean the same in every frame; the network does not change over time.
        * ``"independent"``: :meth:`~skdynaguide.DynaGuideSegmenter.fit_predict` on each
          frame from scratch: every frame as good as a per-image run, but segment ids are
          arbitrary in each frame and the cost is a full training per frame.
    segmenter : InductiveSegmenter or DynaGuideSegmenter, default=None
        The estimator whose parameters are used: an
        :class:`~skdynaguide.InductiveSegmenter` for ``"warm"`` and ``"shared"``, a
        :class:`~skdynaguide.DynaGuideSegmenter` for ``"independent"``. It is cloned
        (:func:`sklearn.base.clone`) and left untouched, fitted or not. None uses the
        estimator's defaults.
    warm_frames : int, default=1
        ``"warm"`` mode: how many first frames the initial ``fit`` trains on together
        (their labels are those of that fit); more frames give the first classes a view of
        more of the scene. Ignored in the other modes.
    warm_guidance : bool, default=False
        ``"warm"`` mode: whether the frames after the first ``warm_frames`` keep training
        with their own guidance maps. By default they do not: the guide shaped the classes
        in the first ``fit``, and a new guide on every frame, matched to the channels
        anew, keeps reassigning regions to other classes, which makes the labels flicker
        (``benchmarks/bench_inductive.py video``); without it the few steps per frame only
        follow the image (similarity and continuity). Ignored in the other modes.
    shared_frames : int or None, default=8
        ``"shared"`` mode: the most frames the network trains on: every k-th frame, k the
        smallest step giving at most ``shared_frames`` of them, starting with the first.
        None trains on every frame. Ignored in the other modes.

    Returns
    -------
    labels : generator of ndarray of shape (H, W), dtype int64
        The label map of each frame, in the order of ``frames``, computed as the generator
        advances.

    Raises
    ------
    ValueError
        An unknown ``mode``, or ``warm_frames`` / ``shared_frames`` not a positive integer.
    TypeError
        ``segmenter`` is not the estimator ``mode`` needs.

    See Also
    --------
    read_frames : The frames of a video file or a folder of images.
    skdynaguide.InductiveSegmenter : The network shared over the frames.

    Notes
    -----
    ``benchmarks/bench_inductive.py video`` measures the stability of the labels of
    ``"warm"`` training over video frames against per-frame runs.

    Examples
    --------
    A red/blue edge moving right over four frames; in ``"warm"`` mode the red side keeps one
    class id throughout:

    >>> import numpy as np
    >>> from skdynaguide import InductiveSegmenter
    >>> from skdynaguide.video import segment_frames
    >>> def frame(split):
    ...     image = np.zeros((24, 32, 3), dtype=np.uint8)
    ...     image[:, :split], image[:, split:] = (220, 40, 40), (40, 60, 220)
    ...     return image
    >>> frames = [frame(split) for split in (10, 13, 16, 19)]
    >>> model = InductiveSegmenter(n_features=16, n_clusters=8, max_iter=30,
    ...                            partial_iter=3, crop_size=None, random_state=0)
    >>> labels = list(segment_frames(frames, "warm", segmenter=model))
    >>> len(labels), labels[0].shape
    (4, (24, 32))
    >>> len({int(maps[12, 2]) for maps in labels}), bool(labels[0][12, 2] != labels[0][12, -2])
    (1, True)
    """
    if not isinstance(mode, str) or mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(map(repr, MODES))}, got {mode!r}")
    expected = DynaGuideSegmenter if mode == "independent" else InductiveSegmenter
    if segmenter is None:
        segmenter = expected()
    elif not isinstance(segmenter, expected):
        article = "an" if expected.__name__[0] in "AEIOU" else "a"
        raise TypeError(f"mode={mode!r} needs segmenter to be {article} {expected.__name__} "
                        f"(or None), got {type(segmenter).__name__}")
    else:
        segmenter = clone(segmenter)
    for name, value, allow_none in (("warm_frames", warm_frames, False),
                                    ("shared_frames", shared_frames, True)):
        if value is None and allow_none:
            continue
        if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
            accepted = "a positive integer" + (" or None" if allow_none else "")
            raise ValueError(f"{name} must be {accepted}, got {value!r}")
    if not isinstance(warm_guidance, (bool, np.bool_)):
        raise TypeError(f"warm_guidance must be a bool, got {warm_guidance!r}")
    if mode == "warm":
        return _warm(frames, segmenter, int(warm_frames), bool(warm_guidance))
    if mode == "shared":
        return _shared(frames, segmenter, shared_frames)
    return _independent(frames, segmenter)


def _warm(frames, model, warm_frames, warm_guidance):
    frames = iter(frames)
    # np.asarray: a frame given as nested lists is one image, not a collection
    first = [np.asarray(frame) for frame in islice(frames, warm_frames)]
    if not first:
        return
    # fitted on a list, classes_ is a list too: one map per frame
    yield from model.fit(first).classes_
    if not warm_guidance:
        model.set_params(guidance=None)  # the model is segment_frames' own clone
    for frame in frames:
        yield model.partial_fit(np.asarray(frame)).classes_


def _shared(frames, model, shared_frames):
    frames = [np.asarray(frame) for frame in frames]
    if not frames:
        return
    step = 1 if shared_frames is None else math.ceil(len(frames) / shared_frames)
    model.fit(frames[::step])
    for frame in frames:
        yield model.predict_classes(frame)


def _independent(frames, segmenter):
    for frame in frames:
        yield segmenter.fit_predict(np.asarray(frame))
