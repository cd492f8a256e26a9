"""Output: what an estimator returns, made from a network's clusters by a pipeline of steps.

:mod:`~skdynaguide.output.pipeline` (the steps and their order, shared by both estimators,
the video functions and the command line), :mod:`~skdynaguide.output.segments` (connected
segments of a minimum size) and :mod:`~skdynaguide.output.snapping` (boundaries moved onto
the image's edges). :class:`~skdynaguide.output.pipeline.HierarchyCut` makes the output a
cut of the image's boundary hierarchy (:mod:`skdynaguide.hierarchy`).
"""
from .pipeline import (
    OUTPUTS,
    FinalResolution,
    HierarchyCut,
    MergeSmallPieces,
    MinSize,
    OutputContext,
    OutputStep,
    Redraw,
    output_steps,
    run_steps,
)
from .segments import merge_small_pieces, merge_small_segments, output_segments
from .snapping import colour_gradient, redraw_boundaries, snap_to_edges

__all__ = ["OutputContext", "OutputStep", "FinalResolution", "MinSize", "MergeSmallPieces",
           "Redraw", "HierarchyCut", "OUTPUTS", "output_steps", "run_steps", "merge_small_segments",
           "merge_small_pieces", "output_segments", "snap_to_edges", "redraw_boundaries",
           "colour_gradient"]
