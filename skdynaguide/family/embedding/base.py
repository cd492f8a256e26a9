"""The region-embedder interface and the string → embedder resolution."""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator

from ..._registry import Pluggable

__all__ = ["RegionEmbedder", "resolve_embedder", "region_sums"]


class RegionEmbedder(Pluggable, BaseEstimator, family="embedder"):
    """Base class of region embedders: an image and its regions in, one vector per region out.

    Like the guidance providers, an embedder stores only its parameters (models are loaded
    lazily and cached outside it). Subclasses implement :meth:`embed` and name themselves in
    the class statement to become reachable by string::

        class MyEmbedder(RegionEmbedder, name="mine"):
            def embed(self, image, regions):
                ...  # image: float32 (H, W, 3) in [0, 1]; regions: (H, W) ids 0..k-1
                     # return a (k, d) float array, row r describing region r

    Squared Euclidean distances between the vectors are what k-means compares, so an
    embedder also fixes the relative weight of its features.

    Examples
    --------
    An embedder describing each region by its mean colour:

    >>> import numpy as np
    >>> from skdynaguide.family.embedding import RegionEmbedder
    >>> from skdynaguide.family.embedding.base import region_sums
    >>> class MeanColour(RegionEmbedder, name="mean-colour-example"):
    ...     def embed(self, image, regions):
    ...         k = int(regions.max()) + 1
    ...         sums = region_sums(regions, image, k)
    ...         return sums / np.bincount(regions.ravel(), minlength=k)[:, None]
    >>> image = np.zeros((2, 2, 3)); image[:, 1] = 1.0
    >>> MeanColour().embed(image, np.array([[0, 1], [0, 1]]))
    array([[0., 0., 0.],
           [1., 1., 1.]])
    """

    def embed(self, image, regions):
        """Vectors of the regions of one validated image.

        Parameters
        ----------
        image : ndarray of shape (H, W, 3), dtype float32
            RGB in [0, 1] (already validated; never modify it).
        regions : ndarray of shape (H, W), dtype int64
            Region ids ``0..k-1``, every id present.

        Returns
        -------
        features : ndarray of shape (k, d)
        """
        raise NotImplementedError


def resolve_embedder(embedder):
    """A validated embedder from a name (``"colour"``, ``"dino"``) or a :class:`RegionEmbedder`.

    Examples
    --------
    >>> from skdynaguide.family.embedding import resolve_embedder
    >>> type(resolve_embedder("colour")).__name__
    'ColourTextureEmbedder'
    """
    return RegionEmbedder.registry.resolve(embedder)


def region_sums(regions, values, n_regions):
    """Per-region sums of per-pixel ``values``: ``(k, c)`` for values of shape ``(H, W, c)``.

    Examples
    --------
    >>> import numpy as np
    >>> from skdynaguide.family.embedding.base import region_sums
    >>> region_sums(np.array([[0, 1, 1]]), np.array([[[1.0], [2.0], [3.0]]]), 2)
    array([[1.],
           [5.]])
    """
    flat = regions.ravel()
    values = values.reshape(flat.size, -1)
    return np.stack([np.bincount(flat, weights=values[:, j], minlength=n_regions)
                     for j in range(values.shape[1])], axis=1)
