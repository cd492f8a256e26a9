"""
==========
Quickstart
==========

Segment a photograph bundled with scikit-image with the default, weight-free guidance
(Felzenszwalb's graph segmentation), and look at the result next to its guidance map and
its training curve.

The defaults train for 100 steps on the image shrunk to at most 25,000 pixels; here the
budget is smaller (``max_pixels=8000``, 50 steps) so that the example runs in seconds.
The label map keeps the photo's full size: the trained network runs once over the
full-size photo, and its clusters become connected segments of at least ``min_size``
(0.1 % of the image).
"""
import matplotlib.pyplot as plt
from skimage import data

from skdynaguide import DynaGuideSegmenter
from skdynaguide.plotting import plot_labels, plot_loss_history, plot_overlay

image = data.chelsea()  # (300, 451, 3) uint8
segmenter = DynaGuideSegmenter(max_pixels=8000, max_iter=50, random_state=0)
labels = segmenter.fit_predict(image)  # (300, 451) ints 0..k-1
print(f"{segmenter.n_labels_} segments after {segmenter.n_iter_} iterations")

fig, axes = plt.subplots(1, 3, figsize=(12, 3.5))
plot_labels(segmenter.guidance_labels_, ax=axes[0], title="guidance (Felzenszwalb)")
plot_overlay(image, labels, ax=axes[1], title=f"DynaGuide: {segmenter.n_labels_} segments")
plot_loss_history(segmenter.loss_history_, ax=axes[2])
axes[2].set_title("training")
fig.tight_layout()

# %%
# The same call segments a list of images (each gets its own network), and
# :func:`skdynaguide.plotting.overlay` gives the picture as an array to save with any
# image library.
from skdynaguide.plotting import overlay  # noqa: E402

picture = overlay(image, labels)
print(picture.shape, picture.dtype)
