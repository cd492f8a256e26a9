"""The loss terms of DynaGuide and its family.

``L = L_sim + w(q') · L_con + g(q') · L_gp``: :class:`FeatureSimilarityLoss` is ``L_sim``,
a :class:`ContinuityLoss` is ``L_con``, :class:`GuidanceLoss` is ``L_gp`` and the dynamic
weights ``w`` live in :mod:`skdynaguide.losses.weighting`. Optional terms of the family:
DFC's :class:`ScribbleLoss` on user-labelled pixels and DCN's :class:`ModularityLoss`.
:mod:`skdynaguide.losses.objective` pairs each with its weight (a :class:`LossTerm`) and
sums them (:class:`Objective`).
"""
from .continuity import ContinuityLoss, HuberContinuity, L1Continuity, resolve_continuity
from .guidance import GuidanceLoss
from .modularity import ModularityLoss, modularity_loss
from .objective import LossTerm, Objective
from .scribble import UNLABELLED, ScribbleLoss
from .similarity import FeatureSimilarityLoss
from .weighting import (
    DynamicWeight,
    FixedWeight,
    FSFWeight,
    SCFWeight,
    resolve_weighting,
)

__all__ = [
    "ContinuityLoss",
    "HuberContinuity",
    "L1Continuity",
    "resolve_continuity",
    "FeatureSimilarityLoss",
    "GuidanceLoss",
    "ScribbleLoss",
    "UNLABELLED",
    "ModularityLoss",
    "modularity_loss",
    "LossTerm",
    "Objective",
    "DynamicWeight",
    "FSFWeight",
    "SCFWeight",
    "FixedWeight",
    "resolve_weighting",
]
