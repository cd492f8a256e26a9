"""Weight-free region statistics: Lab colour moments and histograms, gradient texture, place."""
from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.color import rgb2lab
from skimage.filters import sobel

from ..._image import check_scalar_float, check_scalar_int
from .base import RegionEmbedder, region_sums

__all__ = ["ColourTextureEmbedder"]

#: Range of each CIE Lab channel over the sRGB gamut (L, a, b), the histograms' extent.
LAB_RANGE = ((0.0, 100.0), (-87.0, 99.0), (-108.0, 95.0))
#: Gradient magnitudes are expressed in units of this many L per pixel.
GRADIENT_UNIT = 10.0


class ColourTextureEmbedder(RegionEmbedder, name="colour"):
    """Colour and texture statistics of each region; no weights, no training.

    The vector of a region concatenates four blocks, each multiplied by its weight (a weight
    of 0 leaves the block out):

    * **colour** (6 values): mean and standard deviation of CIE Lab over the region's pixels,
      divided by 100 (L then spans [0, 1], a and b about [-1, 1]);
    * **histogram** (3 × ``n_bins``): for each Lab channel, the fraction of the region's
      pixels in each of ``n_bins`` equal bins over the sRGB gamut (linear interpolation
      between the two nearest bin centres, so a colour near a bin edge does not jump), the
      three histograms divided by √3 (two regions with disjoint colours are √2 apart);
    * **texture** (2 values): mean and standard deviation of the Sobel gradient magnitude of
      L, in units of 10 L per pixel, over the region's *interior* pixels (those whose 3×3
      neighbourhood lies in the region; all its pixels if it has none), so that the edges
      between regions do not count as texture;
    * **position** (3 values, off by default): area as a fraction of the image, and the
      centroid's row and column as fractions of the height and width.

    Parameters
    ----------
    n_bins : int, default=8
        Bins of each Lab channel's histogram.
    colour_weight : float, default=1.0
        Weight of the colour moments.
    histogram_weight : float, default=1.0
        Weight of the colour histograms.
    texture_weight : float, default=1.0
        Weight of the gradient statistics.
    position_weight : float, default=0.0
        Weight of the area and centroid (0: left out, so a class does not depend on where a
        region lies or how large it is).

    Examples
    --------
    >>> import numpy as np
    >>> image = np.zeros((4, 6, 3), dtype=np.float32); image[:, 3:, 0] = 1.0
    >>> regions = np.repeat([[0, 0, 0, 1, 1, 1]], 4, axis=0)
    >>> features = ColourTextureEmbedder().embed(image, regions)
    >>> features.shape  # 6 colour + 24 histogram + 2 texture
    (2, 32)
    >>> features[:, 0].round(3).tolist()  # mean L / 100: black, then red
    [0.0, 0.532]
    """

    def __init__(self, n_bins=8, colour_weight=1.0, histogram_weight=1.0, texture_weight=1.0,
                 position_weight=0.0):
        self.n_bins = n_bins
        self.colour_weight = colour_weight
        self.histogram_weight = histogram_weight
        self.texture_weight = texture_weight
        self.position_weight = position_weight

    def validate(self):
        check_scalar_int(self.n_bins, "n_bins", min_value=1)
        weights = [check_scalar_float(getattr(self, name), name, min_value=0)
                   for name in ("colour_weight", "histogram_weight", "texture_weight",
                                "position_weight")]
        if not any(weights):
            raise ValueError("every block weight of ColourTextureEmbedder is 0: nothing to embed")
        return self

    def embed(self, image, regions):
        n_regions = int(regions.max()) + 1
        lab = rgb2lab(image).astype(np.float64)
        counts = np.bincount(regions.ravel(), minlength=n_regions).astype(np.float64)
        blocks = []
        if self.colour_weight:
            blocks.append(self.colour_weight * _moments(lab / 100.0, regions, counts))
        if self.histogram_weight:
            histograms = [_soft_histogram(lab[..., c], regions, counts, LAB_RANGE[c], self.n_bins)
                          for c in range(3)]
            blocks.append(self.histogram_weight / np.sqrt(3.0) * np.concatenate(histograms, axis=1))
        if self.texture_weight:
            gradient = sobel(lab[..., 0]) / GRADIENT_UNIT
            blocks.append(self.texture_weight * _interior_moments(gradient, regions, counts))
        if self.position_weight:
            blocks.append(self.position_weight * _position(regions, counts))
        return np.concatenate(blocks, axis=1)


def _moments(values, regions, counts):
    """Per-region mean and standard deviation of every channel: ``(k, 2c)``."""
    if values.ndim == 2:
        values = values[..., None]
    mean = region_sums(regions, values, len(counts)) / counts[:, None]
    square = region_sums(regions, values ** 2, len(counts)) / counts[:, None]
    return np.concatenate([mean, np.sqrt(np.maximum(square - mean ** 2, 0.0))], axis=1)


def _soft_histogram(channel, regions, counts, value_range, n_bins):
    """Per-region histogram of one channel with linear interpolation between bin centres."""
    low, high = value_range
    position = np.clip((channel.ravel() - low) / (high - low) * n_bins - 0.5, 0, n_bins - 1)
    lower = np.floor(position).astype(np.int64)
    upper = np.minimum(lower + 1, n_bins - 1)
    frac = position - lower
    index = regions.ravel() * n_bins
    size = len(counts) * n_bins
    histogram = (np.bincount(index + lower, weights=1.0 - frac, minlength=size)
                 + np.bincount(index + upper, weights=frac, minlength=size))
    return histogram.reshape(len(counts), n_bins) / counts[:, None]


def _interior_moments(values, regions, counts):
    """Mean and std of ``values`` over each region's interior (all its pixels if none)."""
    # a pixel is interior when the 3x3 minimum and maximum of the ids around it agree
    interior = (ndimage.minimum_filter(regions, size=3, mode="nearest")
                == ndimage.maximum_filter(regions, size=3, mode="nearest"))
    n_inside = np.bincount(regions[interior], minlength=len(counts))
    use = interior | (n_inside[regions] == 0)
    inside = np.where(use, regions, len(counts))  # pixels left out go to a spare id
    n_pixels = np.maximum(np.bincount(inside.ravel(), minlength=len(counts) + 1), 1)
    moments = _moments(values, inside, n_pixels.astype(np.float64))
    return moments[:len(counts)]


def _position(regions, counts):
    """Area fraction and centroid (row, column) as fractions of the image's sides."""
    height, width = regions.shape
    rows, cols = np.indices(regions.shape, dtype=np.float64)
    coords = np.stack([(rows + 0.5) / height, (cols + 0.5) / width], axis=-1)
    centroid = region_sums(regions, coords, len(counts)) / counts[:, None]
    return np.concatenate([(counts / regions.size)[:, None], centroid], axis=1)
