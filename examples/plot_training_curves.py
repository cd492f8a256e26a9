"""
===========================
Reading the training curves
===========================

Every fitted segmenter records, per iteration, each loss term and the number of clusters
``q'`` in ``loss_history_`` (whatever ``verbose`` is).
:func:`~skdynaguide.plotting.plot_loss_history` draws them.

* ``similarity`` — cross-entropy of the response against its own argmax: it falls as the
  network grows confident about its clustering.
* ``continuity`` — the raw spatial penalty; its weight ``q'/alpha`` falls as clusters merge.
* ``guidance`` — cross-entropy against the guide map; it falls as the network follows the
  guide, weighted by ``guidance_weight / q'``.
* ``q'`` (dotted, right axis) — starts near ``n_clusters`` and drops quickly; a plateau
  means the segmentation has settled, so more iterations would change little.
"""
import matplotlib.pyplot as plt
from skimage import data

from skdynaguide import DynaGuideSegmenter
from skdynaguide.plotting import plot_loss_history, plot_overlay

image = data.chelsea()
seg = DynaGuideSegmenter(n_features=32, n_clusters=32, max_pixels=6000, max_iter=80,
                         random_state=0)
labels = seg.fit_predict(image)
history = seg.loss_history_
print("terms recorded:", sorted(history))
print(f"q' went from {history['n_labels'][0]} to {history['n_labels'][-1]}")

fig, axes = plt.subplots(1, 3, figsize=(14, 3.6))
plot_loss_history(history, ax=axes[0])
axes[0].set_title("raw loss terms")
# weighted=True multiplies continuity and guidance by their dynamic weights, showing each
# term's actual share of the total loss
plot_loss_history(history, ax=axes[1], weighted=True, log=True)
axes[1].set_title("terms times their weights (log)")
plot_overlay(image, labels, ax=axes[2], title=f"{seg.n_labels_} segments")
fig.tight_layout()

# %%
# When ``q'`` is still falling at the last iteration, raise ``max_iter``; when it reaches
# ``min_labels`` training stops early (``n_iter_`` tells how many steps ran). Setting
# ``tol`` stops once fewer than that fraction of the pixels change cluster per step.
print("steps run:", seg.n_iter_)
