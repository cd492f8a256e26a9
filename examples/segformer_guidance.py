"""
=================================
SegFormer guidance (ADE20K prior)
=================================

DynaGuide steered by the pseudo-labels of a pretrained SegFormer
(:class:`~skdynaguide.guidance.SegFormerGuidance`). The default checkpoint,
``nvidia/segformer-b0-finetuned-ade-512-512``, was trained *with labels* on ADE20K: the
segmentation stays label-free on your images, but the prior is supervised. The DynaGuide
authors used the larger B2 (``nvidia/segformer-b2-finetuned-ade-512-512``) in float32:
``SegFormerGuidance.from_preset("dynaguide")`` is that guide, and
``DynaGuideSegmenter.from_preset("dynaguide-segformer")`` DynaGuide as the paper ran it
with it. Images are resized to the size the checkpoint was trained at (512 × 512 here).

Needs ``pip install "skdynaguide[segformer]"`` and the weights. On a machine with internet
access they are downloaded on first use. On one without, download them elsewhere::

    hf download nvidia/segformer-b2-finetuned-ade-512-512 --local-dir segformer-b2

copy the folder over and set ``CHECKPOINT = "segformer-b2"`` below. This script is not run
when the documentation is built, since it needs those weights.
"""
import matplotlib.pyplot as plt
from skimage import data

from skdynaguide import DynaGuideSegmenter
from skdynaguide.guidance import SegFormerGuidance
from skdynaguide.plotting import colorize, plot_overlay

CHECKPOINT = "nvidia/segformer-b2-finetuned-ade-512-512"  # or a local directory

image = data.coffee()
guidance = SegFormerGuidance.from_preset("dynaguide", checkpoint=CHECKPOINT)

# the guidance map alone: ADE20K classes at the image's resolution, labels made consecutive
guide = guidance(image)
print(f"SegFormer: {guide.max() + 1} classes present")

# DynaGuide as the paper ran it with this guide, here with fewer iterations; the model is
# loaded once and shared by every provider with the same checkpoint
segmenter = DynaGuideSegmenter.from_preset("dynaguide-segformer", max_iter=100, random_state=0)
segmenter.set_params(guidance__checkpoint=CHECKPOINT)
labels = segmenter.fit_predict(image)
print(f"DynaGuide: {segmenter.n_labels_} segments after {segmenter.n_iter_} iterations")

fig, axes = plt.subplots(1, 2, figsize=(10, 4))
axes[0].imshow(colorize(guide))
axes[0].set_title("SegFormer-B2 (ADE20K) guidance")
axes[0].set_axis_off()
plot_overlay(image, labels, ax=axes[1])
axes[1].set_title(f"DynaGuide: {segmenter.n_labels_} segments")
fig.tight_layout()
plt.show()
