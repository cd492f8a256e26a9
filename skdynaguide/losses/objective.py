"""The objective of one image: the sum of its weighted loss terms.

DynaGuide's loss ``L = L_sim + w(q')·L_con + g(q')·L_gp`` and the family's optional terms
(DFC's scribble loss, DCN's modularity loss) are each a :class:`LossTerm`: a name (its key
in the loss history), a weight schedule ``weight(step)`` (a function of ``q'``, the current
number of clusters) and a call giving its unweighted value. :class:`Objective` sums
``weight · value`` over the terms in the order of :data:`TERMS`; a new term is one class
and one line there.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .guidance import IGNORE, GuidanceLoss
from .scribble import ScribbleLoss
from .similarity import FeatureSimilarityLoss

__all__ = [
    "ImageTargets",
    "Step",
    "LossTerm",
    "SimilarityTerm",
    "ContinuityTerm",
    "GuidanceTerm",
    "ScribbleTerm",
    "ModularityTerm",
    "TERMS",
    "HISTORY_KEYS",
    "Objective",
]


@dataclass(frozen=True)
class ImageTargets:
    """What the terms compare one image's response with, fixed for its whole training.

    Parameters
    ----------
    guide : long tensor of shape (1, h, w) or None
        The guidance map at the training size; None without guidance.
    n_guide : int
        Number of guide labels (``guide.max() + 1``; 0 without guidance).
    scribbles : long tensor of shape (1, h, w) or None
        Scribble channels at the training size, ``IGNORE`` on unscribbled pixels.
    generator : torch.Generator or None
        The image's own random stream (the modularity subsamples).

    Examples
    --------
    >>> import torch
    >>> from skdynaguide.losses.objective import ImageTargets
    >>> targets = ImageTargets(scribbles=torch.tensor([[[2, -1]]]))
    >>> targets.scribbled.tolist()
    [[[True, False]]]
    """

    guide: torch.Tensor | None = None
    n_guide: int = 0
    scribbles: torch.Tensor | None = None
    generator: torch.Generator | None = None

    @property
    def scribbled(self):
        """Boolean map of the scribbled pixels (None without scribbles)."""
        return None if self.scribbles is None else self.scribbles != IGNORE


@dataclass(frozen=True)
class Step:
    """One image at one iteration: what a term's weight and value are computed from.

    Parameters
    ----------
    response : tensor of shape (1, q, h, w)
        The network's response ``R'``.
    clusters : long tensor of shape (1, h, w)
        Its argmax.
    n_labels : int
        ``q'``, the number of distinct clusters.
    floor : int
        Lower bound of ``q'`` in the continuity weight (the silhouette phase; 1 otherwise).
    features : tensor of shape (1, p, h, w) or None
        The features entering the response layer, when a term or phase needs them.
    targets : ImageTargets
        The image's targets.

    Examples
    --------
    >>> import torch
    >>> from skdynaguide.losses.objective import ImageTargets, Step
    >>> response = torch.randn(1, 4, 5, 5)
    >>> clusters = response.argmax(1)
    >>> step = Step(response, clusters, n_labels=len(clusters.unique()), floor=1,
    ...             features=None, targets=ImageTargets())
    >>> step.n_labels <= 4
    True
    """

    response: torch.Tensor
    clusters: torch.Tensor
    n_labels: int
    floor: int
    features: torch.Tensor | None
    targets: ImageTargets


class LossTerm:
    """One weighted term of the objective.

    Subclasses set :attr:`name` (the history key of the unweighted value), optionally
    :attr:`weight_name` (the history key of the weight, when it is worth recording),
    implement :meth:`weight` and :meth:`__call__`, and may restrict :meth:`active`; a
    classmethod :meth:`from_config` builds the term from a
    :class:`~skdynaguide.training.config.TrainingConfig`.

    Examples
    --------
    A term pulling the response towards zero, weighted ``1/q'``:

    >>> import torch
    >>> from skdynaguide.losses.objective import LossTerm, Step, ImageTargets
    >>> class Shrink(LossTerm):
    ...     name = "shrink"
    ...     def weight(self, step):
    ...         return 1.0 / step.n_labels
    ...     def __call__(self, step):
    ...         return step.response.pow(2).mean()
    >>> step = Step(torch.ones(1, 2, 3, 3), torch.zeros(1, 3, 3, dtype=torch.long),
    ...             n_labels=4, floor=1, features=None, targets=ImageTargets())
    >>> Shrink().weight(step), float(Shrink()(step))
    (0.25, 1.0)
    """

    name: str = ""
    weight_name: str | None = None

    @classmethod
    def from_config(cls, config):
        """The term as ``config`` sets it up."""
        return cls()

    def active(self, targets):
        """Whether the term applies to an image with these targets (else it counts 0)."""
        return True

    def weight(self, step):
        """The term's weight at this step, a float."""
        raise NotImplementedError

    def __call__(self, step):
        """The term's unweighted value, a scalar tensor."""
        raise NotImplementedError


class SimilarityTerm(LossTerm):
    """``L_sim`` at weight 1: the response against its own argmax.

    The cross-entropy of :class:`~skdynaguide.losses.FeatureSimilarityLoss`; with scribbles
    (DFC) it is taken over the unscribbled pixels only.

    Examples
    --------
    >>> import torch
    >>> from skdynaguide.losses.objective import ImageTargets, SimilarityTerm, Step
    >>> response = torch.tensor([[[[2.0]], [[0.0]]]])  # 2 channels, one pixel
    >>> step = Step(response, response.argmax(1), 1, 1, None, ImageTargets())
    >>> SimilarityTerm().weight(step), round(float(SimilarityTerm()(step)), 4)
    (1.0, 0.1269)
    """

    name = "similarity"

    def __init__(self):
        self.loss = FeatureSimilarityLoss()

    def weight(self, step):
        return 1.0

    def __call__(self, step):
        clusters = step.clusters
        if step.targets.scribbles is not None:
            clusters = clusters.masked_fill(step.targets.scribbled, IGNORE)
        return self.loss(step.response, clusters)


class ContinuityTerm(LossTerm):
    """``w(q')·L_con``: a continuity loss weighted by a dynamic weight of ``max(q', floor)``.

    Parameters
    ----------
    continuity : ContinuityLoss
        ``L_con``.
    weighting : DynamicWeight
        ``w``; the silhouette phase's ``floor`` bounds its ``q'`` from below.

    Examples
    --------
    >>> import torch
    >>> from skdynaguide.losses import FSFWeight, L1Continuity
    >>> from skdynaguide.losses.objective import ContinuityTerm, ImageTargets, Step
    >>> term = ContinuityTerm(L1Continuity(), FSFWeight(alpha=15))
    >>> ramp = torch.arange(3.0).reshape(1, 1, 1, 3)
    >>> step = Step(ramp, torch.zeros(1, 1, 3, dtype=torch.long), n_labels=15, floor=30,
    ...             features=None, targets=ImageTargets())
    >>> term.weight(step), float(term(step))
    (2.0, 1.0)
    """

    name, weight_name = "continuity", "continuity_weight"

    def __init__(self, continuity, weighting):
        self.continuity, self.weighting = continuity, weighting

    @classmethod
    def from_config(cls, config):
        return cls(config.continuity, config.weighting)

    def weight(self, step):
        return self.weighting(max(step.n_labels, step.floor))

    def __call__(self, step):
        return self.continuity(step.response)


class GuidanceTerm(LossTerm):
    """``g(q')·L_gp`` with ``g(q') = λ / q'``: the response against the guide.

    The guide is re-expressed in channel space by the matching at every step, then compared
    with the response by :class:`~skdynaguide.losses.GuidanceLoss`. Images without a guide
    leave it out.

    Parameters
    ----------
    matching : GuideMatching
        Guide segments to channels (:mod:`skdynaguide.training.matching`).
    guidance_weight : float
        λ.
    n_clusters : int
        Number of channels q.

    Examples
    --------
    >>> import torch
    >>> from skdynaguide.training.matching import IndexMatching
    >>> from skdynaguide.losses.objective import GuidanceTerm, ImageTargets, Step
    >>> term = GuidanceTerm(IndexMatching(), guidance_weight=100.0, n_clusters=2)
    >>> guide = torch.tensor([[[0, 1]]])
    >>> response = torch.tensor([[[[5.0, -5.0]], [[-5.0, 5.0]]]])
    >>> step = Step(response, response.argmax(1), 4, 1, None, ImageTargets(guide, n_guide=2))
    >>> term.active(step.targets), term.weight(step), float(term(step)) < 1e-3
    (True, 25.0, True)
    """

    name, weight_name = "guidance", "guidance_weight"

    def __init__(self, matching, guidance_weight, n_clusters):
        self.matching, self.guidance_weight, self.n_clusters = (
            matching, guidance_weight, n_clusters)
        self.loss = GuidanceLoss()

    @classmethod
    def from_config(cls, config):
        return cls(config.matching, config.guidance_weight, config.n_clusters)

    def active(self, targets):
        return targets.guide is not None

    def weight(self, step):
        return self.guidance_weight / step.n_labels

    def __call__(self, step):
        targets = step.targets
        channels = self.matching(targets.guide, targets.n_guide, step.clusters, self.n_clusters)
        return self.loss(step.response, channels)


class ScribbleTerm(LossTerm):
    """DFC's scribble loss at a fixed weight, on images that have scribbles.

    Parameters
    ----------
    scribble_weight : float
        The weight (DFC: 0.5) of :class:`~skdynaguide.losses.ScribbleLoss`.

    Examples
    --------
    >>> from skdynaguide.losses.objective import ImageTargets, ScribbleTerm
    >>> ScribbleTerm(0.5).active(ImageTargets())  # no scribbles: the term counts zero
    False
    """

    name = "scribble"

    def __init__(self, scribble_weight):
        self.scribble_weight = scribble_weight
        self.loss = ScribbleLoss()

    @classmethod
    def from_config(cls, config):
        return cls(config.scribble_weight)

    def active(self, targets):
        return targets.scribbles is not None

    def weight(self, step):
        return self.scribble_weight

    def __call__(self, step):
        return self.loss(step.response, step.targets.scribbles)


class ModularityTerm(LossTerm):
    """DCN's modularity loss on the features entering the response layer, at a fixed weight.

    Parameters
    ----------
    modularity : ModularityLoss or None
        :class:`~skdynaguide.losses.ModularityLoss`; None turns the term off.
    modularity_weight : float
        Its weight.

    Examples
    --------
    >>> from skdynaguide.losses import ModularityLoss
    >>> from skdynaguide.losses.objective import ImageTargets, ModularityTerm
    >>> ModularityTerm(None, 0.0).active(ImageTargets())
    False
    >>> ModularityTerm(ModularityLoss(64), 0.5).active(ImageTargets())
    True
    """

    name = "modularity"

    def __init__(self, modularity, modularity_weight):
        self.modularity, self.modularity_weight = modularity, modularity_weight

    @classmethod
    def from_config(cls, config):
        return cls(config.modularity, config.modularity_weight)

    def active(self, targets):
        return self.modularity is not None

    def weight(self, step):
        return self.modularity_weight

    def __call__(self, step):
        return self.modularity(step.features, step.response, step.targets.generator)


#: The terms of the objective, in the order they are summed and recorded.
TERMS = (SimilarityTerm, ContinuityTerm, GuidanceTerm, ScribbleTerm, ModularityTerm)

#: Keys of the loss history: the total, each term's unweighted value, the recorded weights
#: and ``q'``.
HISTORY_KEYS = ("loss", *(t.name for t in TERMS),
                *(t.weight_name for t in TERMS if t.weight_name), "n_labels")


class Objective:
    """``L = Σ weight(step) · term(step)`` over the terms; inactive terms count zero.

    Parameters
    ----------
    terms : sequence of LossTerm
        In summation order.

    Examples
    --------
    >>> import torch
    >>> from skdynaguide.training.config import TrainingConfig
    >>> from skdynaguide.losses import FixedWeight, L1Continuity
    >>> from skdynaguide.losses.objective import ImageTargets, Objective, Step
    >>> objective = Objective.from_config(
    ...     TrainingConfig(continuity=L1Continuity(), weighting=FixedWeight(2.0)))
    >>> response = torch.zeros(1, 3, 4, 4)
    >>> loss, record = objective(Step(response, response.argmax(1), n_labels=1, floor=1,
    ...                               features=None, targets=ImageTargets()))
    >>> round(record["similarity"], 4), record["continuity_weight"], record["guidance"]
    (1.0986, 2.0, 0.0)
    """

    def __init__(self, terms):
        self.terms = tuple(terms)

    @classmethod
    def from_config(cls, config):
        """The objective of :data:`TERMS` as ``config`` sets them up."""
        return cls(term.from_config(config) for term in TERMS)

    def __call__(self, step):
        """``(loss, record)``: the total loss tensor and this step's history entries (floats)."""
        loss, values, weights = None, {}, {}
        for term in self.terms:
            value, weight = 0.0, 0.0
            if term.active(step.targets):
                value, weight = term(step), term.weight(step)
                weighted = weight * value
                loss = weighted if loss is None else loss + weighted
            values[term.name] = value
            if term.weight_name:
                weights[term.weight_name] = weight
        record = {"loss": loss, **values, **weights, "n_labels": step.n_labels}
        return loss, {key: float(value.detach()) if torch.is_tensor(value) else float(value)
                      for key, value in record.items()}
