"""SegFormer pseudo-labels (transformers) as guidance: a prior supervised on ADE20K."""
from __future__ import annotations

import os
from types import MappingProxyType

import numpy as np
import torch

from .. import _hub
from .._device import resolve_device
from .._image import check_scalar_int
from .._upsampling import upsampled_argmax
from .base import GuidanceProvider

__all__ = ["SegFormerGuidance"]


class SegFormerGuidance(GuidanceProvider, name="segformer"):
    """Semantic segmentation by a pretrained SegFormer (Xie et al., 2021) as guidance.

    The image goes through the checkpoint's image processor (resize to the size it was
    trained at, or to ``resolution × resolution`` when set; ImageNet normalisation) and
    ``SegformerForSemanticSegmentation``; the class logits, which come out at 1/4 of the
    processed resolution, are bilinearly upsampled to the image's own size and the argmax is
    the label map (labels made consecutive). Any image size and aspect ratio works; several
    images are processed in batches of ``batch_size``.

    **The prior.** The default checkpoint is trained *with labels* on ADE20K (150 classes of
    scenes and objects). Using it keeps DynaGuide label-free on the target data, but the whole
    pipeline is then not "fully unsupervised"; for that use DiffSeg
    (:class:`~skdynaguide.guidance.DiffSegGuidance`) or a weight-free provider.

    **The paper's checkpoint.** The default is SegFormer-B0 (3.7 M parameters), for speed.
    The DynaGuide authors used SegFormer-B2 (``nvidia/segformer-b2-finetuned-ade-512-512``,
    27 M parameters) at its processor's 512 × 512 in float32:
    ``SegFormerGuidance.from_preset("dynaguide")`` is that setting, and
    ``DynaGuideSegmenter.from_preset("dynaguide-segformer")`` DynaGuide with it. Any
    SegFormer checkpoint works.

    **Weights.** Loaded on first use through ``from_pretrained`` and cached in memory per
    (checkpoint, device, dtype, cache directory), outside the provider's parameters: clones,
    ``GridSearchCV`` and pickles never copy them, and providers with the same checkpoint share
    them (:func:`~skdynaguide.guidance.clear_model_cache` frees them). Without network access,
    download the checkpoint on a connected machine (``hf download
    nvidia/segformer-b0-finetuned-ade-512-512 --local-dir DIR``) and pass
    ``checkpoint=DIR``; a missing checkpoint raises
    :class:`~skdynaguide.guidance.WeightsNotFoundError` with these instructions, a missing
    ``transformers`` an ImportError naming ``pip install "skdynaguide[segformer]"``.

    Parameters
    ----------
    checkpoint : str or path-like, default="nvidia/segformer-b0-finetuned-ade-512-512"
        Hugging Face Hub repository id, or a local directory holding ``config.json``, the
        weights and ``preprocessor_config.json``.
    device : str, default="auto"
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``, ``"cuda:1"``...; an
        unavailable accelerator falls back to the CPU with a warning.
    local_files_only : bool, default=False
        Never try the network (the Hugging Face cache or ``checkpoint`` directory only).
    cache_dir : str, path-like or None, default=None
        Hugging Face cache directory (None: ``HF_HOME`` or ``~/.cache/huggingface``).
    resolution : int or None, default=None
        Side of the square the processor resizes images to. None keeps the size in the
        checkpoint's processor configuration, the one it was trained at (512 × 512 for the
        ``...-ade-512-512`` checkpoints, 1024 × 1024 for ``...-cityscapes-1024-1024``); a
        model run far from its training size segments worse.
    half : bool, default=True
        Run in float16 on CUDA (ignored on the CPU, which always uses float32).
    batch_size : int, default=8
        Images per forward pass in :meth:`segment_batch`.

    See Also
    --------
    DiffSegGuidance : Unsupervised guidance from Stable Diffusion's self-attention.

    Notes
    -----
    Output: an (H, W) map at the image's full resolution; its detail is that of the logits,
    a quarter of the processed size per side (128 × 128 for the default), interpolated
    before the argmax.

    Cost: ``OMP_NUM_THREADS=1 python benchmarks/bench_guidance_cost.py --providers
    segformer`` measures the seconds per 512 × 512 image and the peak memory (float32 on the
    CPU) with a randomly initialised model of b0's size (``SegformerConfig()`` defaults:
    3.75 M parameters) saved and loaded back through this class, since random weights cost
    the same as trained ones.

    References
    ----------
    .. [1] E. Xie, W. Wang, Z. Yu, A. Anandkumar, J. M. Alvarez, P. Luo. "SegFormer: Simple
       and efficient design for semantic segmentation with transformers." NeurIPS 2021.

    Examples
    --------
    The DynaGuide authors' setting by name:

    >>> SegFormerGuidance.from_preset("dynaguide").checkpoint
    'nvidia/segformer-b2-finetuned-ade-512-512'

    Needs the ``segformer`` extra and the weights (downloaded once, or a local directory):

    >>> from skdynaguide import DynaGuideSegmenter
    >>> provider = SegFormerGuidance(checkpoint="nvidia/segformer-b0-finetuned-ade-512-512")
    >>> seg = DynaGuideSegmenter(guidance=provider)          # doctest: +SKIP
    >>> labels = seg.fit_predict(image)                      # doctest: +SKIP
    """

    #: Published settings by name: ``"dynaguide"``, the DynaGuide authors' SegFormer-B2 at its
    #: processor's size, in float32.
    presets = MappingProxyType({
        "dynaguide": MappingProxyType(dict(
            checkpoint="nvidia/segformer-b2-finetuned-ade-512-512", resolution=None, half=False,
        )),
    })

    def __init__(
        self,
        checkpoint="nvidia/segformer-b0-finetuned-ade-512-512",
        device="auto",
        local_files_only=False,
        cache_dir=None,
        resolution=None,
        half=True,
        batch_size=8,
    ):
        self.checkpoint = checkpoint
        self.device = device
        self.local_files_only = local_files_only
        self.cache_dir = cache_dir
        self.resolution = resolution
        self.half = half
        self.batch_size = batch_size

    @classmethod
    def from_preset(cls, name, **params):
        """A provider with a published setting, ``params`` overriding it.

        Parameters
        ----------
        name : {"dynaguide"}
            ``"dynaguide"``: the DynaGuide authors' guide, SegFormer-B2 fine-tuned on ADE20K
            (``nvidia/segformer-b2-finetuned-ade-512-512``) at its processor's size, in
            float32.
        **params
            Any constructor parameter, e.g. ``checkpoint=DIR`` for a local copy of the
            weights.

        Examples
        --------
        >>> SegFormerGuidance.from_preset("dynaguide", checkpoint="segformer-b2").checkpoint
        'segformer-b2'
        """
        if name not in cls.presets:
            raise ValueError(
                f"unknown SegFormer preset {name!r}; choose one of {sorted(cls.presets)}"
            )
        return cls(**{**cls.presets[name], **params})

    def _check_params(self):
        _hub.check_loading_params(self, ("local_files_only", "half"))
        resolution = check_scalar_int(self.resolution, "resolution", min_value=16, allow_none=True)
        batch_size = check_scalar_int(self.batch_size, "batch_size", min_value=1)
        device = resolve_device(self.device)
        dtype = torch.float16 if self.half and device.startswith("cuda") else torch.float32
        return resolution, batch_size, device, dtype

    def _load_model(self, device, dtype):
        """The (processor, model) pair for this checkpoint, from the shared model cache."""
        transformers = _hub.import_optional("transformers", "segformer", type(self).__name__)
        checkpoint = os.fspath(self.checkpoint)
        cache_dir = None if self.cache_dir is None else os.fspath(self.cache_dir)
        options = dict(
            what="SegFormer",
            local_files_only=bool(self.local_files_only),
            cache_dir=cache_dir,
        )

        def load():
            processor = _hub.from_pretrained(transformers.AutoImageProcessor, checkpoint, **options)
            model = _hub.from_pretrained(
                transformers.SegformerForSemanticSegmentation, checkpoint, **options
            )
            return processor, model.eval().to(device=device, dtype=dtype)

        key = _hub.cache_key("segformer", checkpoint, device, dtype, cache_dir)
        return _hub.load_cached(key, load)

    def segment(self, image, random_state=None):
        return self.segment_batch([image], [random_state])[0]

    def segment_batch(self, images, random_states):
        resolution, batch_size, device, dtype = self._check_params()
        processor, model = self._load_model(device, dtype)
        size = {} if resolution is None else {"size": {"height": resolution, "width": resolution}}
        maps = []
        for start in range(0, len(images), batch_size):
            batch = images[start:start + batch_size]
            # The processor expects what the checkpoint was trained on: uint8 RGB that it
            # rescales by 1/255 and normalises; quantising [0, 1] floats to uint8 is lossless
            # for 8-bit photographs and keeps the normalisation exactly the processor's.
            uint8 = [np.round(np.clip(im, 0, 1) * 255).astype(np.uint8) for im in batch]
            inputs = processor(images=uint8, return_tensors="pt", **size)
            pixels = inputs["pixel_values"].to(device=device, dtype=dtype)
            with torch.inference_mode():
                logits = model(pixel_values=pixels).logits
            maps.extend(upsampled_argmax(lg, im.shape[:2]) for lg, im in zip(logits, batch))
        return maps

