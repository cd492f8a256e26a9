"""Scores: the evaluation protocols of SPEC §3, their scorers, and model selection.

:mod:`~skdynaguide.metrics.scores` (Hungarian mIoU, best-overlap, boundary F),
:mod:`~skdynaguide.metrics.covering` (Segmentation Covering),
:mod:`~skdynaguide.metrics.bsds_edges` (the BSDS boundary benchmark of soft maps: ODS, OIS, AP),
:mod:`~skdynaguide.metrics.scoring` (``GridSearchCV`` scorers),
:mod:`~skdynaguide.metrics.evaluation` (:func:`~skdynaguide.evaluate` over a dataset) and
:mod:`~skdynaguide.metrics.model_selection` (the transductive splitter). The functions of
:mod:`~skdynaguide.metrics.scores` are importable from here.
"""
from .covering import segmentation_covering
from .scores import (
    best_overlap_miou,
    boundary_fscore,
    boundary_map,
    boundary_precision_recall_fscore,
    bsds_best_overlap,
    bsds_boundary,
    contingency_matrix,
    hungarian_miou,
    pixel_accuracy,
    relabel_connected,
    segment_best_overlap,
)

__all__ = ["contingency_matrix", "hungarian_miou", "pixel_accuracy", "segment_best_overlap",
           "best_overlap_miou", "bsds_best_overlap", "relabel_connected", "boundary_map",
           "boundary_precision_recall_fscore", "boundary_fscore", "bsds_boundary",
           "segmentation_covering"]
