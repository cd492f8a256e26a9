"""What both estimators share: their scoring, tags, guide check and progress bars."""
from __future__ import annotations

import contextlib
import pickle
import warnings
from pathlib import Path

import torch
from sklearn.utils.validation import check_is_fitted

from . import __version__
from .io import atomic_save
from .metrics.scoring import bsds_score

__all__ = ["SegmenterMixin", "HierarchyCutsMixin", "SaveMixin", "usable_guides", "progress_bar"]


class SegmenterMixin:
    """``score`` and the input tags of an estimator that segments images with ``predict``."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        return tags

    def score(self, X, y):
        """Best-overlap segment mIoU of :meth:`predict` on ``X`` against ``y``.

        Every ground-truth segment takes its best IoU over the predicted segments; the score
        is the mean over the ground-truth segments of all images and all annotations (the
        BSD500 "All" figure, scorer ``"bsds_all"`` of :mod:`skdynaguide.metrics.scoring`,
        which also offers Fine / Coarse / Mean, connected components and Hungarian mIoU).

        Parameters
        ----------
        X : array-like or list of array-like
            Image(s) to segment.
        y : array-like of shape (H, W), or list with one entry per image
            Ground truth per image: one label map, or a list / ``(n, H, W)`` array of
            several annotations.

        Returns
        -------
        score : float in [0, 1]
        """
        predictions = self.predict(X)
        if not isinstance(predictions, list):
            predictions, y = [predictions], [y]
        return bsds_score(y, predictions, which="all")


class HierarchyCutsMixin:
    """``segments_at``: other cuts of the hierarchies a fit left in ``hierarchies_``."""

    def segments_at(self, threshold=None, n_segments=None):
        """The fitted image(s) at another granularity, without training again.

        Parameters
        ----------
        threshold : float or None
            Keep the boundaries of the hierarchy stronger than this (as ``threshold``).
        n_segments : int or None
            Instead: this many segments per image.

        Returns
        -------
        labels : ndarray of shape (H, W), or list of such for several images

        Examples
        --------
        >>> import numpy as np
        >>> from skdynaguide import DynaGuideSegmenter
        >>> image = np.zeros((24, 24, 3)); image[:, 12:] = 1.0; image[12:, :12] = 0.5
        >>> seg = DynaGuideSegmenter(boundaries="gradient", n_features=8, n_clusters=4,
        ...                          max_iter=5, random_state=0).fit(image)
        >>> [int(seg.segments_at(n_segments=k).max()) + 1 for k in (1, 2, 3)]
        [1, 2, 3]
        """
        check_is_fitted(self, "hierarchies_")
        hierarchies = self.hierarchies_
        single = not isinstance(hierarchies, list)
        hierarchies = [hierarchies] if single else hierarchies
        if any(tree is None for tree in hierarchies):
            raise ValueError(f"segments_at needs output='hierarchy'; this segmenter was "
                             f"fitted with output={self.output!r}")
        labels = [tree.cut(threshold=threshold, n_segments=n_segments) for tree in hierarchies]
        return labels[0] if single else labels


class SaveMixin:
    """``save`` and ``load`` of a fitted estimator, with its versions checked on loading."""

    def save(self, path):
        """Write the fitted model to ``path`` (read back with :meth:`load`).

        The file holds a small header (the library's and torch's versions) and then the
        pickled estimator, its network's weights and optimizer state included. It is written
        through a temporary file and renamed into place, so ``path`` is never left half
        written. Like any pickle, load only files you trust.

        Parameters
        ----------
        path : str or path-like

        Returns
        -------
        path : Path

        Examples
        --------
        >>> import os, tempfile
        >>> import numpy as np
        >>> from skdynaguide import InductiveSegmenter
        >>> image = np.zeros((16, 16, 3)); image[:, 8:] = 1.0
        >>> model = InductiveSegmenter(n_features=8, n_clusters=4, max_iter=3, crop_size=8,
        ...                            random_state=0).fit(image)
        >>> path = model.save(os.path.join(tempfile.mkdtemp(), "model.skdg"))
        >>> loaded = InductiveSegmenter.load(path)
        >>> bool((loaded.predict(image) == model.predict(image)).all())
        True
        """
        check_is_fitted(self)
        header = {"format": _format(type(self)), "skdynaguide": __version__, "torch": torch.__version__}

        def write(tmp):
            with open(tmp, "wb") as file:
                pickle.dump(header, file, protocol=pickle.HIGHEST_PROTOCOL)
                pickle.dump(self, file, protocol=pickle.HIGHEST_PROTOCOL)

        return atomic_save(path, write)

    @classmethod
    def load(cls, path):
        """A model written by :meth:`save`.

        Parameters
        ----------
        path : str or path-like

        Returns
        -------
        model : estimator of this class

        Raises
        ------
        FileNotFoundError
            No file at ``path``.
        ValueError
            The file is not a saved model, is truncated or corrupted, or was saved by
            another version of skdynaguide (the message names the file and both versions:
            fit the model again with this version, or load it with the one that saved it).
        """
        path = Path(path)
        with open(path, "rb") as file:  # FileNotFoundError names the file
            try:
                header = pickle.load(file)
            except Exception as exc:  # anything unpickling raises on foreign bytes
                raise ValueError(f"{path}: not a saved {cls.__name__} (its header cannot "
                                 f"be read: {type(exc).__name__}: {exc})") from None
            if not isinstance(header, dict) or header.get("format") != _format(cls):
                raise ValueError(f"{path}: not a saved {cls.__name__} (no {_format(cls)} "
                                 "header)")
            if header.get("skdynaguide") != __version__:
                raise ValueError(
                    f"{path} was saved by skdynaguide {header.get('skdynaguide')} (torch "
                    f"{header.get('torch')}); this is skdynaguide {__version__} (torch "
                    f"{torch.__version__}). Fit the model again with this version, or load it "
                    f"with skdynaguide {header.get('skdynaguide')}")
            try:
                model = pickle.load(file)
            except Exception as exc:
                raise ValueError(f"{path}: the saved model is truncated or corrupted "
                                 f"({type(exc).__name__}: {exc}); save it again") from None
        if not isinstance(model, cls):
            raise ValueError(f"{path}: holds a {type(model).__name__}, not an {cls.__name__}")
        return model


def _format(cls):
    """The first thing in a file written by ``cls.save``."""
    return f"skdynaguide.{cls.__name__}"


def usable_guides(guides, skip=(), stacklevel=4):
    """The guides with every one-label map replaced by None, with one warning naming them.

    A one-label guide marks no boundary; with ``g(q') = λ/q'`` largest at ``q' = 1`` it
    would only pull every pixel into one cluster, so such images train without guidance.
    ``skip`` lists images not to check (uniform images, which do not train).
    """
    single = [i for i, guide in enumerate(guides)
              if guide is not None and i not in skip and guide.max() == 0]
    if single:
        warnings.warn(
            f"The guidance map of image(s) {single} has a single label; they were trained "
            "without the guidance term (it would only merge every pixel into one segment)",
            UserWarning,
            stacklevel=stacklevel,
        )
    return [None if i in single else guide for i, guide in enumerate(guides)]


@contextlib.contextmanager
def progress_bar(verbose, total, desc, unit, postfix):
    """A tqdm bar at ``verbose >= 1`` (else nothing), as a callback ``update(*values)``.

    ``postfix(*values)`` turns the callback's arguments into the bar's postfix dict.
    """
    if verbose < 1:
        yield None
        return
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=desc, unit=unit, leave=False)

    def update(*values):
        bar.update(1)
        bar.set_postfix(postfix(*values), refresh=False)

    try:
        yield update
    finally:
        bar.close()
