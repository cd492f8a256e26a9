"""The guidance-provider interface and the string → provider resolution."""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator

from .._image import check_image, relabel_consecutive
from .._registry import Pluggable

__all__ = ["GuidanceProvider", "resolve_guidance"]


class GuidanceProvider(Pluggable, BaseEstimator, family="guidance"):
    """Base class of guidance providers: an image in, a coarse (H, W) label map out.

    A provider is a light object that stores only its parameters, so that
    :func:`sklearn.base.clone`, ``GridSearchCV`` and pickling stay cheap; providers that need
    a heavy model load it lazily and cache it outside their parameters. Subclasses implement
    :meth:`segment` and name themselves in the class statement to become reachable by string::

        class MyGuidance(GuidanceProvider, name="mine"):
            def segment(self, image, random_state=None):
                ...  # image: float32 (H, W, 3) in [0, 1]; return (H, W) ints

    Calling a provider (``provider(image)``) validates the image (same rules as the
    estimator), runs :meth:`segment` and returns an int64 map with labels ``0..K-1``.

    Examples
    --------
    A provider that splits the image into left and right halves:

    >>> import numpy as np
    >>> from skdynaguide.guidance import GuidanceProvider
    >>> class Halves(GuidanceProvider, name="halves-example"):
    ...     def segment(self, image, random_state=None):
    ...         labels = np.zeros(image.shape[:2], dtype=int)
    ...         labels[:, image.shape[1] // 2:] = 1
    ...         return labels
    >>> Halves()(np.zeros((2, 4, 3))).tolist()
    [[0, 0, 1, 1], [0, 0, 1, 1]]
    """

    def segment(self, image, random_state=None):
        """Label map of one validated image.

        Parameters
        ----------
        image : ndarray of shape (H, W, 3), dtype float32
            RGB in [0, 1] (already validated; never modify it).
        random_state : int or None
            Seed for providers with randomness; deterministic ones ignore it.

        Returns
        -------
        labels : ndarray of shape (H, W), integer dtype
        """
        raise NotImplementedError

    def segment_batch(self, images, random_states):
        """Label maps of validated images, one seed each; override for batched inference."""
        return [self.segment(im, random_state=rs) for im, rs in zip(images, random_states)]

    def __call__(self, image, random_state=None):
        """Validate ``image``, segment it and return consecutive int64 labels."""
        rgb = check_image(image)
        return compute_guidance(self, [rgb], [random_state])[0]


def compute_guidance(provider, images, random_states):
    """Run ``provider`` on validated images and check what it returns.

    Returns a list of int64 maps with consecutive labels 0..K-1 (one per image).

    Examples
    --------
    >>> import numpy as np
    >>> from skdynaguide.guidance import KMeansGuidance, compute_guidance
    >>> image = np.zeros((8, 8, 3), dtype=np.float32); image[:, 4:] = 1.0
    >>> (guide,) = compute_guidance(KMeansGuidance(n_clusters=2), [image], [0])
    >>> guide.shape, int(guide.max())
    ((8, 8), 1)
    """
    maps = provider.segment_batch(images, random_states)
    if len(maps) != len(images):
        raise ValueError(
            f"{type(provider).__name__} returned {len(maps)} label maps for {len(images)} images"
        )
    out = []
    for i, (labels, image) in enumerate(zip(maps, images)):
        labels = np.asarray(labels)
        if labels.shape != image.shape[:2]:
            raise ValueError(
                f"{type(provider).__name__} returned a map of shape {labels.shape} for image "
                f"{i} of shape {image.shape[:2]}"
            )
        if not np.issubdtype(labels.dtype, np.integer):
            raise TypeError(
                f"{type(provider).__name__} returned labels of dtype {labels.dtype}; "
                "guidance maps must be integers"
            )
        out.append(relabel_consecutive(labels))
    return out


def resolve_guidance(guidance):
    """Turn the estimator's ``guidance`` parameter into a provider, or None for no guidance.

    ``None`` and ``"none"`` mean no guidance (DynaSeg / DFC); a string names a registered
    provider created with its default parameters; a :class:`GuidanceProvider` instance is used
    as given.

    Examples
    --------
    >>> from skdynaguide.guidance import resolve_guidance
    >>> resolve_guidance("slic")
    SLICGuidance()
    >>> resolve_guidance("none") is None
    True
    """
    return GuidanceProvider.registry.resolve(guidance, none=True)
