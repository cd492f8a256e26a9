"""Colour k-means as a weight-free guidance provider."""
from __future__ import annotations

import numpy as np
from skimage.color import rgb2lab
from sklearn.cluster import KMeans
from sklearn.utils import check_random_state

from .._image import check_scalar_float, check_scalar_int
from .base import GuidanceProvider

__all__ = ["KMeansGuidance"]


class KMeansGuidance(GuidanceProvider, name="kmeans"):
    """k-means on pixel colours in CIE Lab (optionally with position) as guidance.

    Clusters are global: one cluster may cover several disconnected regions of similar
    colour. The centres are fitted on a random subsample of pixels, then every pixel takes
    its nearest centre.

    Parameters
    ----------
    n_clusters : int, default=8
        Number of colour clusters (fewer if the image has fewer distinct colours).
    spatial_weight : float, default=0
        Weight of the (row, column) position, in Lab units per image diagonal; 0 clusters on
        colour alone.
    max_samples : int, default=20000
        Pixels used to fit the centres.
    random_state : int, RandomState instance or None, default=None
        Seeds the subsample and k-means; None takes the seed the segmenter passes.

    See Also
    --------
    sklearn.cluster.KMeans

    Examples
    --------
    >>> import numpy as np
    >>> image = np.zeros((20, 20, 3)); image[:, 10:] = 1.0
    >>> int(KMeansGuidance(n_clusters=2, random_state=0)(image).max()) + 1
    2
    """

    def __init__(self, n_clusters=8, spatial_weight=0.0, max_samples=20000, random_state=None):
        self.n_clusters = n_clusters
        self.spatial_weight = spatial_weight
        self.max_samples = max_samples
        self.random_state = random_state

    def segment(self, image, random_state=None):
        n_clusters = check_scalar_int(self.n_clusters, "n_clusters", min_value=1)
        spatial_weight = check_scalar_float(self.spatial_weight, "spatial_weight", min_value=0)
        max_samples = check_scalar_int(self.max_samples, "max_samples", min_value=1)
        rng = check_random_state(self.random_state if self.random_state is not None else random_state)

        height, width = image.shape[:2]
        features = rgb2lab(image).reshape(-1, 3)
        if spatial_weight > 0:
            rows, cols = np.mgrid[0:height, 0:width].reshape(2, -1)
            diagonal = np.hypot(height, width)
            position = np.stack([rows, cols], axis=1) * (spatial_weight / diagonal)
            features = np.hstack([features, position])
        n_distinct = len(np.unique(features, axis=0))
        n_clusters = min(n_clusters, n_distinct)
        sample = features
        if len(features) > max_samples:
            sample = features[rng.choice(len(features), max_samples, replace=False)]
        kmeans = KMeans(n_clusters=n_clusters, n_init=3, random_state=rng).fit(sample)
        return kmeans.predict(features).reshape(height, width)
