"""User-supplied guidance maps as a provider."""
from __future__ import annotations

from .._image import check_image, check_label_map
from .._image import fingerprint as _fingerprint
from .base import GuidanceProvider

__all__ = ["PrecomputedGuidance"]


class PrecomputedGuidance(GuidanceProvider, name="precomputed"):
    """Guidance maps computed elsewhere (another segmenter, SAM masks, a previous run).

    Parameters
    ----------
    labels : array-like of shape (H, W) or list of such
        One integer label map, or one per image.
    images : list of array-like, optional
        The images the maps belong to, in the same order as ``labels``. When given, each image
        to segment is matched to its map by content, so the segmenter may be called on any
        subset or order of them (as cross-validation does). When omitted, a single map is
        used for every image of its shape and a list of maps is matched by position in the
        batch passed to ``fit`` / ``predict``.

    Examples
    --------
    >>> import numpy as np
    >>> guide = np.repeat([[0, 0, 1, 1]], 3, axis=0)
    >>> PrecomputedGuidance(guide)(np.zeros((3, 4))).tolist()
    [[0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 1, 1]]
    """

    def __init__(self, labels=None, images=None):
        self.labels = labels
        self.images = images

    def _maps(self):
        if self.labels is None:
            raise ValueError("PrecomputedGuidance needs labels: one (H, W) map or a list of them")
        if isinstance(self.labels, (list, tuple)):
            return [check_label_map(m, name=f"precomputed guidance {i}") for i, m in enumerate(self.labels)]
        return check_label_map(self.labels, name="precomputed guidance")

    def _by_fingerprint(self, maps):
        if not isinstance(maps, list):
            maps = [maps]
        if len(self.images) != len(maps):
            raise ValueError(
                f"PrecomputedGuidance got {len(maps)} label maps for {len(self.images)} images"
            )
        return {_fingerprint(check_image(im, name=f"precomputed image {i}")): m
                for i, (im, m) in enumerate(zip(self.images, maps))}

    def segment_batch(self, images, random_states):
        maps = self._maps()
        if self.images is not None:
            table = self._by_fingerprint(maps)
            found = []
            for i, image in enumerate(images):
                key = _fingerprint(image)
                if key not in table:
                    raise ValueError(
                        f"image {i} (shape {image.shape[:2]}) is not one of the images given to "
                        "PrecomputedGuidance(images=...)"
                    )
                found.append(table[key])
            return found
        if isinstance(maps, list):
            if len(maps) != len(images):
                raise ValueError(
                    f"PrecomputedGuidance holds {len(maps)} label maps but {len(images)} images "
                    "were passed; give one map per image, or pass images=... to match by content"
                )
            found = maps
        else:
            found = [maps] * len(images)
        for i, (m, image) in enumerate(zip(found, images)):
            if m.shape != image.shape[:2]:
                raise ValueError(
                    f"precomputed guidance map has shape {m.shape} but image {i} has shape "
                    f"{image.shape[:2]}"
                )
        return found

    def segment(self, image, random_state=None):
        return self.segment_batch([image], [random_state])[0]
