"""Make ``docs/_static/readme_result.png``, the picture at the top of README.md.

A real result of the library's defaults: ``DynaGuideSegmenter(random_state=0)`` on the
coffee photo bundled with scikit-image, shown as the photo, the overlay the command line
writes, and the segment boundaries. Run from the repository root::

    python docs/make_readme_figure.py

Panels are halved in size and the PNG is palette-quantised to stay small (< 200 kB).
"""
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data
from skimage.transform import resize

from skdynaguide import DynaGuideSegmenter
from skdynaguide.plotting import mark_boundaries, overlay

OUT = Path(__file__).resolve().parent / "_static" / "readme_result.png"


def main():
    image = data.coffee()
    segmenter = DynaGuideSegmenter(random_state=0)
    labels = segmenter.fit_predict(image)
    panels = [image, overlay(image, labels), mark_boundaries(image, labels, color=(255, 230, 0))]
    height, width = image.shape[0] // 2, image.shape[1] // 2
    small = [np.round(resize(p, (height, width), order=1, anti_aliasing=True,
                             preserve_range=True)).astype(np.uint8) for p in panels]
    gap = np.full((height, 6, 3), 255, dtype=np.uint8)
    strip = np.concatenate([small[0], gap, small[1], gap, small[2]], axis=1)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(strip).quantize(colors=128, dither=Image.Dither.NONE).save(OUT, optimize=True)
    print(f"{OUT}: {segmenter.n_labels_} segments after {segmenter.n_iter_} iterations, "
          f"{OUT.stat().st_size // 1024} kB")


if __name__ == "__main__":
    main()
