"""Training: the per-image network, its configuration and the loops that train it.

:mod:`~skdynaguide.training.network` (the small CNN), :mod:`~skdynaguide.training.config`
(the resolved settings), :mod:`~skdynaguide.training.step` (the one gradient step),
:mod:`~skdynaguide.training.loop` (one fresh network per image, B ≥ 1 images stacked by
:mod:`~skdynaguide.training.batched`), :mod:`~skdynaguide.training.collection` (one network
over a collection), :mod:`~skdynaguide.training.matching` (guide segments to channels),
:mod:`~skdynaguide.training.resolution` (a trained network's clusters at full size), and
DynaSeg's and DFC's training inputs (:mod:`~skdynaguide.training.silhouette`,
:mod:`~skdynaguide.training.scribbles`). The loss terms live in :mod:`skdynaguide.losses`.
"""
from .config import training_shape
from .loop import (
    SegmentationResult,
    image_targets,
    network_input,
    seeded_network,
    segment_batch,
    segment_image,
    train,
)
from .resolution import final_labels, full_size_labels, shrunk_labels

__all__ = ["train", "segment_image", "segment_batch", "SegmentationResult", "final_labels",
           "full_size_labels", "shrunk_labels", "network_input", "image_targets",
           "seeded_network", "training_shape"]
