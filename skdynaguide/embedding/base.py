"""The region-embedder interface and the string → embedder resolution."""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator

from .._registry import Registry

__all__ = ["RegionEmbedder", "resolve_embedder", "region_sums"]


class RegionEmbedder(BaseEstimator):
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
    """

    registry = Registry("embedder")

    def __init_subclass__(cls, name=None, **kwargs):
        super().__init_subclass__(**kwargs)
        if name is not None:
            RegionEmbedder.registry.add(name, cls)

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

    def validate(self):
        """Check the parameters (called before any embedding); returns self."""
        return self


def resolve_embedder(embedder):
    """A validated embedder from a name (``"colour"``, ``"dino"``) or a :class:`RegionEmbedder`."""
    if isinstance(embedder, str):
        return RegionEmbedder.registry.create(embedder).validate()
    if isinstance(embedder, RegionEmbedder):
        return embedder.validate()
    raise TypeError(
        f"embedder must be one of {RegionEmbedder.registry.names()} or a RegionEmbedder "
        f"instance, got {embedder!r}"
    )


def region_sums(regions, values, n_regions):
    """Per-region sums of per-pixel ``values``: ``(k, c)`` for values of shape ``(H, W, c)``."""
    flat = regions.ravel()
    values = values.reshape(flat.size, -1)
    return np.stack([np.bincount(flat, weights=values[:, j], minlength=n_regions)
                     for j in range(values.shape[1])], axis=1)
