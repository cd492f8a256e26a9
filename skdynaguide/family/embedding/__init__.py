"""Region embedders: a vector per region of an image, for DCN's region classification.

:class:`~skdynaguide.RegionClassifier` embeds every region of every image of a dataset and
clusters the vectors, so an embedder decides what "the same class" means. Weight-free:
:class:`ColourTextureEmbedder` (Lab colour moments and histograms, gradient statistics,
optional area and position). Pretrained, loaded lazily through transformers:
:class:`DINOEmbedder` (the mean DINO ViT patch token inside each region).
"""
from .base import RegionEmbedder, resolve_embedder
from .colour import ColourTextureEmbedder
from .dino import DINOEmbedder

__all__ = ["RegionEmbedder", "ColourTextureEmbedder", "DINOEmbedder", "resolve_embedder"]
