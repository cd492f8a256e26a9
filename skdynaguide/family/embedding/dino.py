"""DINO ViT region embeddings (transformers): the mean patch token inside each region."""
from __future__ import annotations

import os

import numpy as np
import torch
import torch.nn.functional as F

from ... import _hub
from ..._device import resolve_device
from ..._image import IMAGENET_MEAN, IMAGENET_STD, check_scalar_int
from .base import RegionEmbedder

__all__ = ["DINOEmbedder"]


class DINOEmbedder(RegionEmbedder, name="dino"):
    """Self-supervised DINO ViT features (Caron et al., 2021), averaged over each region.

    The image is resized (bilinear, antialiased, aspect ratio kept) so that its shorter side
    is about ``resolution`` pixels, both sides multiples of the patch size; it is
    ImageNet-normalised and goes through ``transformers.ViTModel`` with interpolated position
    embeddings. The embedding of a region is the mean of the last layer's patch tokens, each
    weighted by how many of the region's pixels fall in its patch (so a region smaller than a
    patch still gets the token of the patch it lies in), then scaled to unit length when
    ``normalize`` (k-means then compares directions, as the cosine similarity of DINO's
    features does).

    **Weights.** Loaded on first use through ``from_pretrained`` and cached in memory per
    (checkpoint, device, cache directory), outside the parameters (clones and pickles never
    copy them; :func:`~skdynaguide.guidance.clear_model_cache` frees them). Offline,
    download the checkpoint on a connected machine (``hf download facebook/dino-vits8
    --local-dir DIR``) and pass ``checkpoint=DIR``; a missing checkpoint raises
    :class:`~skdynaguide.guidance.WeightsNotFoundError` with these instructions.

    Parameters
    ----------
    checkpoint : str or path-like, default="facebook/dino-vits8"
        Hugging Face Hub repository id or local directory of a transformers ViT
        (``facebook/dino-vits8``, ``dino-vits16``, ``dino-vitb8``, ``dino-vitb16``).
    resolution : int, default=224
        Shorter side, in pixels, of the image the ViT sees (at least one patch).
    normalize : bool, default=True
        Scale every region vector to unit Euclidean length.
    device : str, default="auto"
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``...; an unavailable
        accelerator falls back to the CPU with a warning.
    local_files_only : bool, default=False
        Never try the network (the Hugging Face cache or the ``checkpoint`` directory only).
    cache_dir : str, path-like or None, default=None
        Hugging Face cache directory (None: ``HF_HOME`` or ``~/.cache/huggingface``).

    References
    ----------
    .. [1] M. Caron, H. Touvron, I. Misra, H. Jégou, J. Mairal, P. Bojanowski, A. Joulin.
       "Emerging properties in self-supervised vision transformers." ICCV 2021.

    Examples
    --------
    Needs transformers and the weights (downloaded once, or a local directory):

    >>> from skdynaguide import RegionClassifier
    >>> embedder = DINOEmbedder(checkpoint="facebook/dino-vits8")
    >>> classes = RegionClassifier(n_classes=27, embedder=embedder).fit_predict(
    ...     images, label_maps)                              # doctest: +SKIP
    """

    def __init__(self, checkpoint="facebook/dino-vits8", resolution=224, normalize=True,
                 device="auto", local_files_only=False, cache_dir=None):
        self.checkpoint = checkpoint
        self.resolution = resolution
        self.normalize = normalize
        self.device = device
        self.local_files_only = local_files_only
        self.cache_dir = cache_dir

    def validate(self):
        _hub.check_loading_params(self, ("normalize", "local_files_only"))
        check_scalar_int(self.resolution, "resolution", min_value=1)
        resolve_device(self.device)
        return self

    def _load_model(self, device):
        """The ``ViTModel`` for this checkpoint, from the shared model cache."""
        transformers = _hub.import_optional("transformers", "pretrained", type(self).__name__)
        checkpoint = os.fspath(self.checkpoint)
        cache_dir = None if self.cache_dir is None else os.fspath(self.cache_dir)

        def load():
            model = _hub.from_pretrained(transformers.ViTModel, checkpoint, what="DINO ViT",
                                         local_files_only=bool(self.local_files_only),
                                         cache_dir=cache_dir, add_pooling_layer=False)
            return model.eval().to(device=device, dtype=torch.float32)

        key = _hub.cache_key("dino", checkpoint, device, torch.float32, cache_dir)
        return _hub.load_cached(key, load)

    def patch_tokens(self, image):
        """The last layer's patch tokens of one image: ``(rows, cols, d)`` numpy array."""
        device = resolve_device(self.device)
        model = self._load_model(device)
        patch = model.config.patch_size
        height, width = image.shape[:2]
        scale = self.resolution / min(height, width)
        rows = max(1, round(height * scale / patch))
        cols = max(1, round(width * scale / patch))
        x = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None].float()
        x = F.interpolate(x, size=(rows * patch, cols * patch), mode="bilinear",
                          antialias=True, align_corners=False)
        mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in (IMAGENET_MEAN, IMAGENET_STD))
        pixels = ((x - mean) / std).to(device)
        with torch.inference_mode():
            hidden = model(pixel_values=pixels, interpolate_pos_encoding=True).last_hidden_state
        # the patch tokens come last (after the CLS token)
        return hidden[0, -rows * cols:].float().cpu().numpy().reshape(rows, cols, -1)

    def embed(self, image, regions):
        tokens = self.patch_tokens(image)
        rows, cols, _ = tokens.shape
        height, width = regions.shape
        # the patch each pixel falls in, on the resized grid
        row = np.minimum((np.arange(height) + 0.5) * rows // height, rows - 1).astype(np.int64)
        col = np.minimum((np.arange(width) + 0.5) * cols // width, cols - 1).astype(np.int64)
        patch = row[:, None] * cols + col[None, :]
        n_regions = int(regions.max()) + 1
        overlap = np.bincount((regions * (rows * cols) + patch).ravel(),
                              minlength=n_regions * rows * cols).reshape(n_regions, rows * cols)
        features = overlap @ tokens.reshape(rows * cols, -1) / overlap.sum(1, keepdims=True)
        if self.normalize:
            features /= np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-12)
        return features
