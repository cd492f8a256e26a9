"""
=========================================
DiffSeg guidance (Stable Diffusion prior)
=========================================

DynaGuide steered by DiffSeg (:class:`~skdynaguide.guidance.DiffSegGuidance`): segments
from the self-attention of Stable Diffusion v1.4, which was trained without segmentation
labels, so the whole pipeline is unsupervised. One UNet pass per square window; use a GPU
(about 40 s per window on one CPU core: benchmarks/bench_guidance_cost.py).

The photograph here is not square (400 × 600): with ``window="slide"`` it is covered by
two overlapping 400 × 400 windows whose segments are joined where they agree.

Needs ``pip install "skdynaguide[diffseg]"`` and the weights (UNet, VAE, CLIP text encoder
and tokenizer). On a machine without internet access, download them elsewhere::

    hf download CompVis/stable-diffusion-v1-4 --include "unet/*" "vae/*" \\
        "text_encoder/*" "tokenizer/*" --local-dir sd-v1-4

copy the folder over and set ``CHECKPOINT = "sd-v1-4"`` below. This script is not run when
the documentation is built, since it needs those weights.
"""
import matplotlib.pyplot as plt
from skimage import data

from skdynaguide import DynaGuideSegmenter
from skdynaguide.guidance import DiffSegGuidance
from skdynaguide.plotting import colorize, plot_overlay

CHECKPOINT = "CompVis/stable-diffusion-v1-4"  # or a local directory with the four sub-folders

image = data.coffee()
guidance = DiffSegGuidance(checkpoint=CHECKPOINT, kl_threshold=(1.1, 1.1, 1.1), window="slide")

guide = guidance(image, random_state=0)
print(f"DiffSeg: {guide.max() + 1} segments")

segmenter = DynaGuideSegmenter(guidance=guidance, max_iter=100, random_state=0)
labels = segmenter.fit_predict(image)
print(f"DynaGuide: {segmenter.n_labels_} segments after {segmenter.n_iter_} iterations")

fig, axes = plt.subplots(1, 2, figsize=(10, 4))
axes[0].imshow(colorize(guide))
axes[0].set_title("DiffSeg guidance")
axes[0].set_axis_off()
plot_overlay(image, labels, ax=axes[1])
axes[1].set_title(f"DynaGuide: {segmenter.n_labels_} segments")
fig.tight_layout()
plt.show()
