"""
==========
Quickstart
==========

Segment a photograph bundled with scikit-image with the default, weight-free guidance,
and look at the result next to its guidance map and its training curve.
"""
import matplotlib.pyplot as plt
from skimage import data

from skdynaguide import DynaGuideSegmenter
from skdynaguide.plotting import colorize, plot_loss_history, plot_overlay

image = data.chelsea()
segmenter = DynaGuideSegmenter(max_iter=60, random_state=0)
labels = segmenter.fit_predict(image)
print(f"{segmenter.n_labels_} segments after {segmenter.n_iter_} iterations")

fig, axes = plt.subplots(1, 3, figsize=(12, 3.5))
axes[0].imshow(colorize(segmenter.guidance_labels_))
axes[0].set_title("guidance (colour k-means)")
axes[0].set_axis_off()
plot_overlay(image, labels, ax=axes[1])
axes[1].set_title(f"DynaGuide: {segmenter.n_labels_} segments")
plot_loss_history(segmenter.loss_history_, ax=axes[2])
axes[2].set_title("training")
fig.tight_layout()
