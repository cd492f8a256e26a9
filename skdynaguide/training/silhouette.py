"""DynaSeg's silhouette score phase: pick a cluster count from the features.

At the first iteration DynaSeg clusters the network's pixel features with k-means for a
range of cluster counts and keeps the count with the best silhouette score. That count
floors ``q'`` in the dynamic weight and in the stopping rule, so training cannot collapse
to fewer clusters than the features support.
"""
from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score
from sklearn.utils import check_random_state

__all__ = ["silhouette_count"]


def silhouette_count(features, k_range=(2, 10), n_samples=2000, random_state=None):
    """The number of k-means clusters of ``features`` with the best silhouette score.

    Parameters
    ----------
    features : ndarray of shape (n_pixels, n_features)
        One feature vector per pixel.
    k_range : (int, int), default=(2, 10)
        Smallest and largest count tried (both included).
    n_samples : int, default=2000
        Pixels drawn (without replacement) to cluster and score; the silhouette costs
        ``n_samples ** 2`` distances per count.
    random_state : int, RandomState instance or None
        Seeds the subsample and k-means.

    Returns
    -------
    best_k : int
        The count with the highest silhouette score; 1 when the sample holds fewer than two
        distinct feature vectors (nothing to separate).
    scores : dict
        Silhouette score per count tried. Counts above the number of distinct sampled
        vectors are skipped.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> blobs = np.concatenate([rng.normal(c, 0.1, (50, 2)) for c in (0, 5, 10)])
    >>> silhouette_count(blobs, (2, 6), random_state=0)[0]
    3
    """
    rng = check_random_state(random_state)
    sample = np.asarray(features, dtype=np.float64)
    if len(sample) > n_samples:
        sample = sample[rng.choice(len(sample), n_samples, replace=False)]
    n_distinct = len(np.unique(sample, axis=0))
    scores = {}
    for k in range(k_range[0], min(k_range[1], n_distinct, len(sample) - 1) + 1):
        labels = KMeans(n_clusters=k, n_init=3, random_state=rng).fit_predict(sample)
        scores[k] = float(silhouette_score(sample, labels))
    if not scores:  # fewer distinct vectors than the smallest count
        return max(1, min(k_range[0], n_distinct)), scores
    return max(scores, key=scores.get), scores
