"""Colouring label maps, drawing them over photographs, and plotting training curves.

The array functions (:func:`label_colors`, :func:`colorize`, :func:`overlay`,
:func:`mark_boundaries`) need only numpy and scikit-image. The ``plot_*`` helpers import
matplotlib lazily (the ``plot`` extra), draw on the given Axes (or the current one), return
the Axes and never call ``plt.show()``.

Colours are stable: label value ``v`` gets the colour ``label_colors(n)[v]`` whatever ``n``
is, so the same labels look the same in every picture.
"""
from __future__ import annotations

import numpy as np
from skimage.color import hsv2rgb
from skimage.segmentation import find_boundaries

from ._image import check_image, check_label_map

__all__ = [
    "label_colors",
    "colorize",
    "overlay",
    "mark_boundaries",
    "plot_labels",
    "plot_overlay",
    "plot_boundaries",
    "plot_comparison",
    "plot_loss_history",
]

#: The loss terms :func:`plot_loss_history` draws (those that are all zero are left out).
LOSS_TERMS = ("loss", "similarity", "continuity", "guidance", "scribble", "modularity")


def label_colors(n_labels):
    """Distinct RGB colours for label values ``0..n_labels-1``, the same on every call.

    Colours walk the hue circle by the golden angle with alternating saturation and
    lightness, so that neighbouring label ids get clearly different colours. Colour ``v``
    depends on ``v`` only: ``label_colors(n)[v]`` is the same for every ``n > v``.

    Parameters
    ----------
    n_labels : int
        Number of colours.

    Returns
    -------
    colors : ndarray of shape (n_labels, 3), dtype uint8

    See Also
    --------
    colorize : Apply these colours to a label map.

    Examples
    --------
    >>> from skdynaguide.plotting import label_colors
    >>> label_colors(3).shape
    (3, 3)
    >>> bool((label_colors(10)[:3] == label_colors(3)).all())
    True
    """
    index = np.arange(n_labels)
    hue = (index * 0.618033988749895) % 1.0
    saturation = np.where(index % 2 == 0, 0.75, 0.55)
    value = np.where(index % 3 == 2, 0.70, 0.95)
    rgb = hsv2rgb(np.stack([hue, saturation, value], axis=1)[:, None, :])[:, 0, :]
    return np.round(rgb * 255).astype(np.uint8)


def colorize(labels):
    """An RGB picture of a label map: one stable colour per label value.

    Parameters
    ----------
    labels : array-like of shape (H, W)
        Non-negative integer labels.

    Returns
    -------
    picture : ndarray of shape (H, W, 3), dtype uint8

    See Also
    --------
    label_colors : The colour of each label value.
    overlay : The colours blended over a photograph.

    Examples
    --------
    >>> import numpy as np
    >>> from skdynaguide.plotting import colorize
    >>> colorize(np.array([[0, 1]])).shape
    (1, 2, 3)
    """
    labels = check_label_map(labels)
    if labels.min() < 0:
        raise ValueError("labels must be non-negative to be coloured")
    return label_colors(int(labels.max()) + 1)[labels]


def mark_boundaries(image, labels, *, color=(255, 255, 255), mode="inner"):
    """The image with the boundaries between segments drawn in one colour.

    Parameters
    ----------
    image : array-like of shape (H, W) or (H, W, 3)
        The photograph (any dtype the estimator accepts).
    labels : array-like of shape (H, W)
        Its segmentation.
    color : tuple of 3 int, default=(255, 255, 255)
        RGB colour of the boundary pixels.
    mode : {"inner", "outer", "thick", "subpixel"}, default="inner"
        Which pixels count as boundary, as in :func:`skimage.segmentation.find_boundaries`
        (``"subpixel"`` is not supported: the picture keeps the image's size).

    Returns
    -------
    picture : ndarray of shape (H, W, 3), dtype uint8

    Examples
    --------
    >>> import numpy as np
    >>> from skdynaguide.plotting import mark_boundaries
    >>> picture = mark_boundaries(np.zeros((2, 4)), np.array([[0, 0, 1, 1]] * 2))
    >>> picture[0, :, 0].tolist()
    [0, 0, 255, 0]
    """
    if mode == "subpixel":
        raise ValueError("mode='subpixel' changes the picture's size; use 'inner' or 'thick'")
    rgb = np.round(check_image(image) * 255.0)
    labels = check_label_map(labels, shape=rgb.shape[:2])
    rgb[find_boundaries(labels, mode=mode)] = color
    return np.clip(rgb, 0, 255).astype(np.uint8)


def overlay(image, labels, *, alpha=0.45, boundaries=True, boundary_color=(255, 255, 255)):
    """Blend the label colours over the image and mark segment boundaries.

    Parameters
    ----------
    image : array-like of shape (H, W) or (H, W, 3)
        The photograph (any dtype the estimator accepts).
    labels : array-like of shape (H, W)
        Its segmentation.
    alpha : float, default=0.45
        Opacity of the colours (0 shows only the photo, 1 only the colours).
    boundaries : bool, default=True
        Draw the boundaries between segments.
    boundary_color : tuple of 3 int, default=(255, 255, 255)
        RGB colour of the boundary pixels.

    Returns
    -------
    picture : ndarray of shape (H, W, 3), dtype uint8

    See Also
    --------
    plot_overlay : The same on a matplotlib Axes.

    Examples
    --------
    >>> import numpy as np
    >>> from skdynaguide.plotting import overlay
    >>> overlay(np.zeros((2, 2)), np.array([[0, 1], [0, 1]])).dtype
    dtype('uint8')
    """
    rgb = check_image(image) * 255.0
    labels = check_label_map(labels, shape=rgb.shape[:2])
    mixed = (1.0 - alpha) * rgb + alpha * colorize(labels)
    if boundaries:
        mixed[find_boundaries(labels, mode="inner")] = boundary_color
    return np.clip(np.round(mixed), 0, 255).astype(np.uint8)


def _axes(ax):
    import matplotlib.pyplot as plt

    return plt.gca() if ax is None else ax


def _show(ax, picture, title):
    ax.imshow(picture, interpolation="nearest")
    ax.set_axis_off()
    if title is not None:
        ax.set_title(title)
    return ax


def plot_labels(labels, ax=None, *, title=None):
    """Show a label map in its stable colours (:func:`colorize`) and return the Axes.

    Parameters
    ----------
    labels : array-like of shape (H, W)
        Non-negative integer labels.
    ax : matplotlib Axes, optional
        Where to draw; the current Axes by default.
    title : str, optional
        Axes title.

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from skdynaguide.plotting import plot_labels
    >>> ax = plot_labels(np.array([[0, 1], [2, 3]]), title="labels")
    >>> ax.get_title()
    'labels'
    """
    return _show(_axes(ax), colorize(labels), title)


def plot_overlay(image, labels, ax=None, *, title=None, **kwargs):
    """Show :func:`overlay` (colours and boundaries over the photo) and return the Axes.

    Parameters
    ----------
    image : array-like of shape (H, W) or (H, W, 3)
        The photograph.
    labels : array-like of shape (H, W)
        Its segmentation.
    ax : matplotlib Axes, optional
        Where to draw; the current Axes by default.
    title : str, optional
        Axes title.
    **kwargs
        ``alpha``, ``boundaries``, ``boundary_color`` of :func:`overlay`.

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from skdynaguide.plotting import plot_overlay
    >>> image = np.zeros((4, 4, 3)); labels = np.repeat([[0, 0, 1, 1]], 4, axis=0)
    >>> ax = plot_overlay(image, labels, alpha=0.6)
    >>> ax.get_images()[0].get_array().shape
    (4, 4, 3)
    """
    return _show(_axes(ax), overlay(image, labels, **kwargs), title)


def plot_boundaries(image, labels, ax=None, *, title=None, color=(255, 255, 255),
                    mode="inner"):
    """Show the photo with segment boundaries drawn (:func:`mark_boundaries`).

    Parameters
    ----------
    image : array-like of shape (H, W) or (H, W, 3)
        The photograph.
    labels : array-like of shape (H, W)
        Its segmentation.
    ax : matplotlib Axes, optional
        Where to draw; the current Axes by default.
    title : str, optional
        Axes title.
    color : tuple of 3 int, default=(255, 255, 255)
        RGB colour of the boundaries.
    mode : {"inner", "outer", "thick"}, default="inner"
        Boundary width and placement (:func:`skimage.segmentation.find_boundaries`).

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from skdynaguide.plotting import plot_boundaries
    >>> ax = plot_boundaries(np.zeros((4, 4)), np.eye(4, dtype=int), color=(255, 0, 0))
    >>> ax.axison
    False
    """
    return _show(_axes(ax), mark_boundaries(image, labels, color=color, mode=mode), title)


def plot_comparison(image, segmentations, *, titles=None, kind="overlay", show_image=True,
                    axes=None, ncols=None, **kwargs):
    """Several segmentations of one image side by side; returns the array of Axes.

    Parameters
    ----------
    image : array-like of shape (H, W) or (H, W, 3)
        The photograph.
    segmentations : sequence or dict of array-like of shape (H, W)
        The label maps to compare; with a dict, its keys are the titles.
    titles : sequence of str, optional
        One title per segmentation (default: the dict keys, or none).
    kind : {"overlay", "boundaries", "labels"}, default="overlay"
        How each segmentation is drawn: :func:`plot_overlay`, :func:`plot_boundaries` or
        :func:`plot_labels`.
    show_image : bool, default=True
        Put the photograph itself first.
    axes : array-like of matplotlib Axes, optional
        Where to draw (at least as many as panels); a new figure by default.
    ncols : int, optional
        Panels per row of the new figure (default: all in one row).
    **kwargs
        Passed to the drawing function of ``kind``.

    Returns
    -------
    axes : ndarray of matplotlib Axes
        The Axes used, in order (the photo first when ``show_image``); unused Axes of a new
        figure are removed.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from skdynaguide.plotting import plot_comparison
    >>> image = np.zeros((4, 4, 3))
    >>> maps = {"halves": np.repeat([[0, 0, 1, 1]], 4, axis=0), "one": np.zeros((4, 4), int)}
    >>> axes = plot_comparison(image, maps)
    >>> [ax.get_title() for ax in axes]
    ['image', 'halves', 'one']
    """
    draw = {"overlay": plot_overlay, "boundaries": plot_boundaries, "labels": plot_labels}
    if kind not in draw:
        raise ValueError(f"kind must be one of {sorted(draw)}, got {kind!r}")
    if isinstance(segmentations, dict):
        titles = list(segmentations) if titles is None else titles
        segmentations = list(segmentations.values())
    segmentations = list(segmentations)
    if titles is not None and len(titles) != len(segmentations):
        raise ValueError(f"{len(titles)} titles for {len(segmentations)} segmentations")
    n_panels = len(segmentations) + bool(show_image)
    if axes is None:
        import matplotlib.pyplot as plt

        ncols = n_panels if ncols is None else max(1, min(ncols, n_panels))
        nrows = -(-n_panels // ncols)
        fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 3.0 * nrows),
                                 squeeze=False)
        for extra in axes.ravel()[n_panels:]:
            fig.delaxes(extra)
    axes = np.asarray(axes, dtype=object).ravel()
    if len(axes) < n_panels:
        raise ValueError(f"{n_panels} panels need as many Axes, got {len(axes)}")
    axes = axes[:n_panels]
    panels = iter(axes)
    if show_image:
        _show(next(panels), np.round(check_image(image) * 255).astype(np.uint8), "image")
    for i, (ax, labels) in enumerate(zip(panels, segmentations)):
        title = None if titles is None else titles[i]
        if kind == "labels":
            plot_labels(labels, ax, title=title, **kwargs)
        else:
            draw[kind](image, labels, ax, title=title, **kwargs)
    return axes


def plot_loss_history(history, ax=None, *, weighted=False, log=False, terms=None):
    """Plot each loss term and the cluster count ``q'`` of ``loss_history_`` by iteration.

    Parameters
    ----------
    history : dict
        One image's ``loss_history_`` of a fitted
        :class:`~skdynaguide.DynaGuideSegmenter`.
    ax : matplotlib Axes, optional
        Where to draw the losses; the current Axes by default. ``q'`` goes on a twin axis
        on the right.
    weighted : bool, default=False
        Draw the continuity and guidance terms multiplied by their dynamic weights
        ``w(q')`` and ``g(q')`` (their share of the total), rather than raw.
    log : bool, default=False
        Logarithmic loss axis.
    terms : sequence of str, optional
        Which of ``"loss"`` (the total), ``"similarity"``, ``"continuity"``, ``"guidance"``,
        ``"scribble"``, ``"modularity"`` to draw; by default every term that is not zero
        throughout (an unused term is zero).

    Returns
    -------
    ax : matplotlib Axes
        The Axes of the loss terms; ``ax.right_ax`` is the twin Axes of ``q'``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from skdynaguide import DynaGuideSegmenter
    >>> from skdynaguide.plotting import plot_loss_history
    >>> image = np.zeros((16, 16, 3)); image[:, 8:] = 1.0
    >>> seg = DynaGuideSegmenter(n_features=8, n_clusters=8, max_iter=5, random_state=0)
    >>> _ = seg.fit(image)
    >>> ax = plot_loss_history(seg.loss_history_)
    >>> [line.get_label() for line in ax.get_lines()]
    ['loss', 'similarity', 'continuity', 'guidance']
    >>> len(ax.right_ax.get_lines()[0].get_ydata())
    5
    """
    if not isinstance(history, dict):
        raise TypeError("history must be one image's loss_history_ (a dict); for a batch "
                        "pass seg.loss_history_[i]")
    missing = [key for key in ("loss", "n_labels") if key not in history]
    if missing:
        raise ValueError(f"history lacks {missing}: pass a fitted segmenter's loss_history_")
    if terms is None:
        terms = [t for t in LOSS_TERMS if t in history and np.any(np.asarray(history[t]) != 0)]
    else:
        unknown = [t for t in terms if t not in LOSS_TERMS or t not in history]
        if unknown:
            raise ValueError(f"unknown loss terms {unknown}; choose from {LOSS_TERMS}")
    ax = _axes(ax)
    iterations = np.arange(1, len(history["loss"]) + 1)
    for key in terms:
        values = np.asarray(history[key], dtype=float)
        label = key
        if weighted and f"{key}_weight" in history:
            values = values * np.asarray(history[f"{key}_weight"], dtype=float)
            label = f"{key} × weight"
        ax.plot(iterations, values, label=label)
    ax.set_xlabel("iteration")
    ax.set_ylabel("weighted loss" if weighted else "loss")
    if log:
        ax.set_yscale("log")
    twin = ax.twinx()
    twin.plot(iterations, history["n_labels"], color="black", linestyle=":", label="q'")
    twin.set_ylabel("clusters q'")
    ax.right_ax = twin
    lines = ax.get_legend_handles_labels()
    more = twin.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], loc="upper right")
    return ax
