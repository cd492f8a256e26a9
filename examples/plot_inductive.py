"""
========================
Train once, segment many
========================

:class:`~skdynaguide.DynaGuideSegmenter` trains a fresh network on every image.
:class:`~skdynaguide.InductiveSegmenter` trains one network over a collection, each photo
with its own Felzenszwalb guide, and then segments a new photo by a forward pass, with
no training. Label k is the network's channel k, so a class has the same colour in every
picture below: the photos it was trained on and the one it has never seen.

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
labels = model.predict(new)  # a forward pass over the full-size photo
print(f"predicted {new.shape[0]}x{new.shape[1]} in {time.perf_counter() - start:.2f} s; "
      f"{model.n_iter_} training steps")

fig, axes = plt.subplots(1, 4, figsize=(14, 3.2))
for ax, (name, image), fitted in zip(axes, collection.items(), model.labels_):
    plot_overlay(image, fitted, ax=ax, title=f"{name} (training)")
plot_overlay(new, labels, ax=axes[3], title="chelsea (new: predict)")
fig.tight_layout()

# %%
# The next frames of a video, or more photos of the same kind, continue the training with
# :meth:`~skdynaguide.InductiveSegmenter.partial_fit` (``partial_iter`` steps, 10 by
# default) from the current weights: the classes keep their meaning while the network
# adapts to the new picture.
model.partial_fit(new)
print(f"after partial_fit: {model.n_iter_} steps, {model.n_labels_} classes in chelsea")
