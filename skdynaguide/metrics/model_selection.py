"""Cross-validation for a transductive segmenter.

DynaGuide learns nothing that carries over between images, so "training images" have no
meaning: :class:`TransductiveSplit` gives every split an empty training set and all images as
the test set. Use it with ``refit=False``; each candidate then segments and scores every
image once::

    from sklearn.model_selection import GridSearchCV
    from skdynaguide.metrics.model_selection import TransductiveSplit
    from skdynaguide.metrics.scoring import get_scorer

    search = GridSearchCV(DynaGuideSegmenter(), {"alpha": [5, 15, 50]},
                          cv=TransductiveSplit(), scoring=get_scorer("bsds_mean"),
                          refit=False, n_jobs=2)
    search.fit(images, annotations)   # lists: images of any sizes, one y entry per image

Nested parameters work as usual (``continuity__delta``, ``guidance__n_clusters``).
``cross_val_score(segmenter, images, y, cv=TransductiveSplit(), scoring=...)`` scores one
configuration.
"""
from __future__ import annotations

import numpy as np
from sklearn.model_selection import BaseCrossValidator

from .._image import check_scalar_int

__all__ = ["TransductiveSplit"]


class TransductiveSplit(BaseCrossValidator):
    """Splits with no training images and every image scored.

    Parameters
    ----------
    n_repeats : int, default=1
        Number of identical splits. With a segmenter whose ``random_state`` is None each
        repeat draws new seeds, so the spread of the split scores measures the seed
        variance (``mean_test_score`` ± ``std_test_score`` in ``cv_results_``).

    Examples
    --------
    >>> list(TransductiveSplit().split([0, 1, 2]))
    [(array([], dtype=int64), array([0, 1, 2]))]
    """

    def __init__(self, n_repeats=1):
        self.n_repeats = n_repeats

    def _iter_test_indices(self, X=None, y=None, groups=None):  # pragma: no cover - unused
        raise NotImplementedError

    def split(self, X, y=None, groups=None):
        """Yield ``(train, test)`` = (no indices, all indices), ``n_repeats`` times."""
        n_repeats = check_scalar_int(self.n_repeats, "n_repeats", min_value=1)
        n_samples = len(X)
        if n_samples == 0:
            raise ValueError("X holds no images to score")
        for _ in range(n_repeats):
            yield np.array([], dtype=np.int64), np.arange(n_samples)

    def get_n_splits(self, X=None, y=None, groups=None):
        """Number of splits: ``n_repeats``."""
        return check_scalar_int(self.n_repeats, "n_repeats", min_value=1)
