"""
========================
Train once, segment many
========================

:class:`~skdynaguide.DynaGuideSegmenter` trains a fresh network on every image.
:class:`~skdynaguide.InductiveSegmenter` trains one network over a collection, each photo
with its own Felzenszwalb guide, and then segments a new photo by a forward pass, with
no training. Its classes (:meth:`~skdynaguide.InductiveSegmenter.predict_classes`) are the
network's channels, so a class has the same colour in every picture of the top row: the
photos it was trained on and the one it has never seen. Its segments
(:meth:`~skdynaguide.InductiveSegmenter.predict`, bottom row) are drawn from them by the
per-image estimator's output steps: the photo's guide snapped onto its edges, grouped as
the classes group it, in connected segments.

The default trains 500 steps on crops of 96 pixels; the budget here is smaller (photos
shrunk to 8,000 pixels, 100 steps on crops of 48) so that the example runs in seconds.
``benchmarks/RESULTS.md`` compares the shared network with per-image training on BSD500.
"""
import time

import matplotlib.pyplot as plt
from skimage import data

from skdynaguide import InductiveSegmenter
from skdynaguide.plotting import plot_overlay

collection = {"astronaut": data.astronaut(), "coffee": data.coffee(),
              "rocket": data.rocket()}
model = InductiveSegmenter(max_pixels=8000, max_iter=100, crop_size=48, n_features=32,
                           n_clusters=32, random_state=0)
model.fit(list(collection.values()))

new = data.chelsea()
start = time.perf_counter()
labels = model.predict(new)  # a forward pass over the full-size photo, then the output steps
print(f"predicted {new.shape[0]}x{new.shape[1]} in {time.perf_counter() - start:.2f} s "
      f"({labels.max() + 1} segments); {model.n_iter_} training steps")
classes = model.predict_classes(new)

fig, axes = plt.subplots(2, 4, figsize=(14, 6.4))
for column, ((name, image), fitted, segments) in enumerate(
        zip(collection.items(), model.classes_, model.labels_)):
    plot_overlay(image, fitted, ax=axes[0, column], title=f"{name} (training): classes")
    plot_overlay(image, segments, ax=axes[1, column], title=f"{name}: segments")
plot_overlay(new, classes, ax=axes[0, 3], title="chelsea (new): predict_classes")
plot_overlay(new, labels, ax=axes[1, 3], title="chelsea (new): predict")
fig.tight_layout()

# %%
# The next frames of a video, or more photos of the same kind, continue the training with
# :meth:`~skdynaguide.InductiveSegmenter.partial_fit` (``partial_iter`` steps, 10 by
# default) from the current weights: the classes keep their meaning while the network
# adapts to the new picture.
model.partial_fit(new)
print(f"after partial_fit: {model.n_iter_} steps, {model.n_labels_} segments in chelsea")
