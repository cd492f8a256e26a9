"""
=========================================
DiffSeg guidance (Stable Diffusion prior)
=========================================

DynaGuide steered by DiffSeg (:class:`~skdynaguide.guidance.DiffSegGuidance`): segments
from the self-attention of Stable Diffusion v1.4, which was trained without segmentation
labels, so the whole pipeline is unsupervised. One UNet pass per square window; use a GPU
(about 40 s per window on one CPU core: benchmarks/bench_guidance_cost.py).

DiffSeg's published settings are available by name: ``"benchmark"`` (the original's
benchmark on COCO-Stuff: threshold 1.1, no k-means refinement), ``"benchmark-cityscapes"``
(0.9) and ``"demo"`` (0.9 with refinement), all segmenting the central square of the image
in float32, as the original does. The photograph here is not square (400 × 600): the
original protocol (``window="center"``) segments its central 400 × 400 square, while
``window="slide"`` covers it whole with two overlapping 400 × 400 windows whose segments
are joined where they agree. ``DynaGuideSegmenter.from_preset("dynaguide-diffseg")`` is
DynaGuide as its paper ran it with this guide.

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

# the original protocol: the central square only (the rest continues its border labels)
original = DiffSegGuidance.from_preset("benchmark", checkpoint=CHECKPOINT)
# the same settings over the whole image
whole = DiffSegGuidance.from_preset("benchmark", checkpoint=CHECKPOINT, window="slide")
guides = {"central square (original)": original(image), "sliding windows": whole(image)}
for name, guide in guides.items():
    print(f"DiffSeg, {name}: {guide.max() + 1} segments")

# DynaGuide as the paper ran it with DiffSeg, here with fewer iterations
segmenter = DynaGuideSegmenter.from_preset("dynaguide-diffseg", max_iter=100, random_state=0)
segmenter.set_params(guidance__checkpoint=CHECKPOINT)
labels = segmenter.fit_predict(image)
print(f"DynaGuide: {segmenter.n_labels_} segments after {segmenter.n_iter_} iterations")

fig, axes = plt.subplots(1, 3, figsize=(15, 4))
for ax, (name, guide) in zip(axes, guides.items()):
    ax.imshow(colorize(guide))
    ax.set_title(f"DiffSeg, {name}")
    ax.set_axis_off()
plot_overlay(image, labels, ax=axes[2])
axes[2].set_title(f"DynaGuide: {segmenter.n_labels_} segments")
fig.tight_layout()
plt.show()
