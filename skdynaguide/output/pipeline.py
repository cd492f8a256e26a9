"""The output pipeline: from a trained network (or any clusters) to the returned labels.

Both estimators, the video functions and the command line turn a network's clusters into
what they return through the same steps, each an :class:`OutputStep` with one signature,
``step(labels, context) -> labels``: ``labels`` the map so far, ``context`` what every
step may read (the image, its guide, its edge map, the trained network). A step is one
small class here and a parameter of the estimators; :func:`output_steps` lists the steps
the estimators' parameters ask for, in order:

1. :class:`FinalResolution` (``final_resolution``): the network's clusters at the image's
   full size;
2. :class:`MinSize` (``min_size``): connected segments of a minimum size, or
   :class:`MergeSmallPieces` where class ids must be kept;
3. :class:`Redraw` (``snap``, ``keep_edges``): boundaries drawn from the guide's, moved onto
   the image's edges, then :class:`MinSize` again.

With ``output="hierarchy"`` steps 2 and 3 give way to :class:`HierarchyCut`: a cut of the
image's boundary hierarchy (:mod:`skdynaguide.hierarchy`) whose boundaries between
different clusters are strengthened (``network_weight``); its regions are connected and no smaller than
``min_area`` by construction.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._image import check_label_map, relabel_consecutive, size_in_pixels
from ..boundaries import resolve_boundaries
from ..hierarchy import build_hierarchy
from ..training.resolution import full_size_labels, shrunk_labels
from .segments import merge_small_pieces, merge_small_segments
from .snapping import colour_gradient, redraw_boundaries, snap_to_edges

__all__ = ["OutputContext", "OutputStep", "FinalResolution", "MinSize", "MergeSmallPieces",
           "Redraw", "HierarchyCut", "output_steps", "run_steps", "OUTPUTS"]

#: The values of the estimators' ``output`` parameter.
OUTPUTS = ("hierarchy", "redraw")


@dataclass
class OutputContext:
    """What the steps of the output pipeline may read about one image.

    Parameters
    ----------
    image : ndarray of shape (H, W, 3), float32 in [0, 1]
        The validated image.
    guide : ndarray of shape (H, W) or None
        Its guidance map.
    network : torch.nn.Module or None
        The network trained for it (or shared by a collection), for
        :class:`FinalResolution`.
    training_shape : (int, int) or None
        The size the image trained at.
    max_pixels : int or None
        For a network that never saw this image: the size to run it at with
        ``final_resolution="training"``.
    edges : ndarray of shape (H, W) or None
        The image's edge strength, where boundaries are moved onto and kept; computed on
        first use when not given: the smooth map of ``boundaries``, or without one the
        colour gradient (:func:`~skdynaguide.output.snapping.colour_gradient`).
    boundaries : str, BoundaryDetector or None, default=None
        The boundary map of the edges and of :class:`HierarchyCut`'s hierarchy; None: the
        colour gradient for the edges and ``"gradient"`` for the hierarchy.
    hierarchy : BoundaryHierarchy or None
        Set by :class:`HierarchyCut`: the hierarchy its labels are a cut of (the clusters'
        weights applied), for cuts at other levels later.

    Examples
    --------
    >>> import numpy as np
    >>> from skdynaguide.output import OutputContext
    >>> image = np.zeros((4, 6, 3), np.float32); image[:, 3:] = 1.0
    >>> context = OutputContext(image=image)
    >>> context.edge_map().shape
    (4, 6)
    """

    image: np.ndarray
    guide: np.ndarray | None = None
    network: object = None
    training_shape: tuple | None = None
    max_pixels: int | None = None
    edges: np.ndarray | None = field(default=None)
    boundaries: object = None
    hierarchy: object = None

    def edge_map(self):
        """The image's edge strength, computed once."""
        if self.edges is None:
            if self.boundaries is None:
                self.edges = colour_gradient(self.image)
            else:
                self.edges = resolve_boundaries(self.boundaries).smooth(self.image)
        return self.edges


class OutputStep:
    """One step of the output pipeline: ``step(labels, context) -> labels``.

    Subclasses store their parameters in ``__init__`` and implement :meth:`__call__`, which
    returns a new int64 map and never modifies its inputs.

    Examples
    --------
    A step that numbers the labels of the left and right halves apart:

    >>> import numpy as np
    >>> from skdynaguide.output import OutputContext, OutputStep, run_steps
    >>> class SplitHalves(OutputStep):
    ...     def __call__(self, labels, context):
    ...         out = np.array(labels, dtype=np.int64)
    ...         out[:, out.shape[1] // 2:] += out.max() + 1
    ...         return out
    >>> context = OutputContext(image=np.zeros((2, 4, 3), np.float32))
    >>> run_steps([SplitHalves()], np.zeros((2, 4), int), context).tolist()
    [[0, 0, 1, 1], [0, 0, 1, 1]]
    """

    def __call__(self, labels, context):
        raise NotImplementedError

    def __repr__(self):
        items = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({items})"

    def __eq__(self, other):
        return type(self) is type(other) and vars(self) == vars(other)


class FinalResolution(OutputStep):
    """The network's clusters at the image's full size.

    ``"full"`` runs the trained network once on the full-size image (BatchNorm with its
    running statistics; :func:`~skdynaguide.training.resolution.full_size_labels`);
    ``"training"`` keeps the clusters the training-size response gives, upsampled. The
    same for an image that trained at its full size: its training labels are kept. Given
    no labels (an inductive model, which never trained on this image), the network runs
    on the image at the size the mode asks for.

    Parameters
    ----------
    mode : {"full", "training"}, default="full"
        The estimators' ``final_resolution``.

    Examples
    --------
    >>> import numpy as np
    >>> from skdynaguide.output import FinalResolution, OutputContext
    >>> from skdynaguide.training.network import DynaGuideNet
    >>> image = np.zeros((10, 12, 3), np.float32)
    >>> context = OutputContext(image=image, network=DynaGuideNet(n_features=4, n_clusters=3),
    ...                         training_shape=(5, 6))
    >>> FinalResolution("full")(None, context).shape
    (10, 12)
    """

    def __init__(self, mode="full"):
        self.mode = mode

    def __call__(self, labels, context):
        net, size = context.network, context.image.shape[:2]
        if net is None:
            if labels is None:
                raise ValueError("FinalResolution needs clusters or a network")
            return labels
        if labels is not None and (self.mode != "full" or context.training_shape == size):
            return labels
        if self.mode == "full":
            full = full_size_labels(net, context.image)
        else:
            full = shrunk_labels(net, context.image, context.max_pixels)
        if full is not None:
            return full
        if labels is None:
            raise RuntimeError(
                "the network's response is not finite (its weights diverged, e.g. under a "
                "too large lr); train again with a smaller lr")
        return labels


class MinSize(OutputStep):
    """Connected segments of a minimum size.

    Parameters
    ----------
    min_size : int or float
        Pixels (an int) or a fraction of the image's area (a float in (0, 1)); see
        :func:`~skdynaguide.output.segments.merge_small_segments`.

    Examples
    --------
    >>> import numpy as np
    >>> from skdynaguide.output import MinSize, OutputContext
    >>> context = OutputContext(image=np.zeros((1, 4, 3), np.float32))
    >>> MinSize(0)(np.array([[5, 7, 5, 5]]), context).tolist()
    [[0, 1, 2, 2]]
    """

    def __init__(self, min_size):
        self.min_size = min_size

    def __call__(self, labels, context):
        return merge_small_segments(context.image, labels, self.min_size)


class MergeSmallPieces(OutputStep):
    """Small connected pieces join a neighbour, label values kept (class ids).

    Parameters
    ----------
    min_size : int or float
        As :class:`MinSize`; see :func:`~skdynaguide.output.segments.merge_small_pieces`.

    Examples
    --------
    >>> import numpy as np
    >>> from skdynaguide.output import MergeSmallPieces, OutputContext
    >>> context = OutputContext(image=np.zeros((1, 4, 3), np.float32))
    >>> MergeSmallPieces(2)(np.array([[5, 7, 5, 5]]), context).tolist()
    [[5, 5, 5, 5]]
    """

    def __init__(self, min_size):
        self.min_size = min_size

    def __call__(self, labels, context):
        return merge_small_pieces(context.image, labels, self.min_size)


class Redraw(OutputStep):
    """Boundaries drawn from the guide's, moved onto the image's edges.

    Each piece of the guide snapped within ``snap`` pixels takes the label that covers most
    of it; pieces on either side of a strong edge stay apart (``keep_edges``). Without a
    guide the labels' own boundaries are moved (:mod:`skdynaguide.output.snapping`). The
    edges are the context's edge map. Returns consecutive labels.

    Parameters
    ----------
    snap : int
        How far, in pixels, a boundary may move.
    keep_edges : float in (0, 1] or None, default=None
        See :func:`~skdynaguide.output.snapping.redraw_boundaries`.

    Examples
    --------
    >>> import numpy as np
    >>> from skdynaguide.output import OutputContext, Redraw
    >>> image = np.zeros((2, 8, 3), np.float32); image[:, 3:] = 1.0
    >>> guide = np.repeat([[0] * 4 + [1] * 4], 2, axis=0)
    >>> context = OutputContext(image=image, guide=guide)
    >>> Redraw(2)(guide, context)[0].tolist()
    [0, 0, 0, 1, 1, 1, 1, 1]
    """

    def __init__(self, snap, keep_edges=None):
        self.snap = snap
        self.keep_edges = keep_edges

    def __call__(self, labels, context):
        if context.guide is None:
            redrawn = snap_to_edges(context.image, labels, self.snap,
                                    edges=context.edge_map())
        else:
            redrawn = redraw_boundaries(context.image, labels, context.guide, self.snap,
                                        keep_edges=self.keep_edges, edges=context.edge_map())
        return relabel_consecutive(redrawn)


class HierarchyCut(OutputStep):
    """A cut of the image's boundary hierarchy, informed by the clusters.

    The hierarchy of the context's boundary map (:func:`~skdynaguide.hierarchy.build_hierarchy`)
    has its superpixel boundaries strengthened where the clusters differ across them
    (:meth:`~skdynaguide.hierarchy.BoundaryHierarchy.informed_by`), then is cut at ``threshold`` (or into ``n_segments`` regions). The informed hierarchy is
    left in ``context.hierarchy`` for cuts at other levels.

    Parameters
    ----------
    threshold : float
        Boundaries at most this strong (after weighting) are merged away.
    n_segments : int or None, default=None
        Instead of ``threshold``: this many regions.
    network_weight : float in [0, 1), default=0.25
        How far the clusters strengthen the boundaries between them (up to
        ``(1 + w) / (1 - w)`` times); 0 ignores them (the hierarchy's own cut).
    method : {"dynamics", "mean"}, default="dynamics"
        The hierarchy (see :mod:`skdynaguide.hierarchy.tree`).
    min_area : int or float, default=0.0005
        Smallest region, in pixels (int) or as a fraction of the image (float).

    Examples
    --------
    >>> import numpy as np
    >>> from skdynaguide.output import HierarchyCut, OutputContext
    >>> image = np.zeros((20, 30, 3), np.float32); image[:, 10:] = 0.5; image[:, 20:] = 1.0
    >>> context = OutputContext(image=image, boundaries="gradient")
    >>> clusters = np.zeros((20, 30), int); clusters[:, 20:] = 1
    >>> HierarchyCut(0.7, network_weight=0, min_area=20)(clusters, context)[0, [0, 15, 25]]
    array([0, 0, 0])
    >>> HierarchyCut(0.7, network_weight=0.5, min_area=20)(clusters, context)[0, [0, 15, 25]]
    array([0, 0, 1])
    """

    def __init__(self, threshold, n_segments=None, network_weight=0.25, method="dynamics",
                 min_area=0.0005):
        self.threshold = threshold
        self.n_segments = n_segments
        self.network_weight = network_weight
        self.method = method
        self.min_area = min_area

    def __call__(self, labels, context):
        # without a boundary map (the colour gradient of the redraw steps), the
        # weight-free one
        boundaries = "gradient" if context.boundaries is None else context.boundaries
        tree = build_hierarchy(context.image, boundaries, method=self.method,
                               min_area=self.min_area)
        min_pixels = size_in_pixels(self.min_area, tree.regions.size, name="min_area")
        context.hierarchy = tree.informed_by(labels, self.network_weight, min_area=min_pixels)
        if self.n_segments is not None:
            return context.hierarchy.cut(n_segments=self.n_segments)
        return context.hierarchy.cut(threshold=self.threshold)


def output_steps(*, min_size, snap=None, keep_edges=None, final_resolution=None,
                 classes=False, output="redraw", threshold=None, n_segments=None,
                 network_weight=0.25):
    """The steps the estimators' output parameters ask for, in order.

    Parameters
    ----------
    min_size : int, float or None
        Connected segments of this minimum size (:class:`MinSize`); None keeps the clusters.
    snap : int or None, default=None
        Boundaries redrawn within this many pixels (:class:`Redraw`); None or 0: none.
    keep_edges : float or None, default=None
        Strong guide edges kept by :class:`Redraw`.
    final_resolution : {"full", "training"} or None, default=None
        Starts with :class:`FinalResolution` (None: the labels given are full size already).
    classes : bool, default=False
        Keep the label values (class ids shared across images): small pieces merge
        (:class:`MergeSmallPieces`) and boundaries are not redrawn.
    output : {"redraw", "hierarchy"}, default="redraw"
        ``"hierarchy"``: one :class:`HierarchyCut` (``threshold``, ``n_segments``,
        ``network_weight``, ``min_size`` as its ``min_area``) instead of the steps above.
    threshold, n_segments, network_weight
        Of :class:`HierarchyCut`.

    Returns
    -------
    steps : list of OutputStep

    Examples
    --------
    >>> from skdynaguide.output import output_steps
    >>> output_steps(min_size=0.0005, snap=2, keep_edges=0.9)
    [MinSize(min_size=0.0005), Redraw(snap=2, keep_edges=0.9), MinSize(min_size=0.0005)]
    >>> output_steps(min_size=0.0005, output="hierarchy", threshold=0.2)
    [HierarchyCut(threshold=0.2, n_segments=None, network_weight=0.25, method='dynamics', min_area=0.0005)]
    """
    steps = [] if final_resolution is None else [FinalResolution(final_resolution)]
    if classes:
        return steps + ([] if min_size is None else [MergeSmallPieces(min_size)])
    if output == "hierarchy":
        return steps + [HierarchyCut(threshold, n_segments, network_weight,
                                     min_area=0 if min_size is None else min_size)]
    if output != "redraw":
        raise ValueError(f"output must be one of {OUTPUTS}, got {output!r}")
    if min_size is not None:
        steps.append(MinSize(min_size))
    if snap:
        steps.append(Redraw(snap, keep_edges))
        if min_size is not None:
            steps.append(MinSize(min_size))
    return steps


def run_steps(steps, labels, context):
    """Apply ``steps`` in order to ``labels``.

    Parameters
    ----------
    steps : list of OutputStep
    labels : array-like of shape (H, W) or None
        The labels so far; None where :class:`FinalResolution` makes them from the
        context's network.
    context : OutputContext

    Returns
    -------
    labels : ndarray of shape (H, W), dtype int64

    Examples
    --------
    >>> import numpy as np
    >>> from skdynaguide.output import OutputContext, output_steps, run_steps
    >>> image = np.zeros((2, 6, 3), np.float32); image[:, 3:] = 1.0
    >>> clusters = np.array([[4, 4, 4, 9, 9, 4], [4, 4, 4, 9, 9, 9]])
    >>> run_steps(output_steps(min_size=2), clusters, OutputContext(image=image)).tolist()
    [[0, 0, 0, 1, 1, 1], [0, 0, 0, 1, 1, 1]]
    """
    for step in steps:
        labels = step(labels, context)
    return check_label_map(labels) if labels is not None else labels
