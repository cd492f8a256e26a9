"""DiffSeg (Tian et al., CVPR 2024): unsupervised guidance from Stable Diffusion's self-attention."""
from __future__ import annotations

import numbers
import os
import threading
from contextlib import contextmanager
from types import MappingProxyType

import numpy as np
import torch

from .. import _hub
from .._device import resolve_device
from .._image import check_scalar_float, check_scalar_int
from . import _diffseg_ops as ops
from .base import GuidanceProvider

__all__ = ["DiffSegGuidance"]

_SUBFOLDERS = ("unet", "vae", "text_encoder", "tokenizer")
_WINDOWS = ("slide", "center", "pad", "resize")

# How the original code runs every setting it publishes: the central square resized to the
# model's input without antialiasing (tf.image.resize), models in float32.
_ORIGINAL_PROTOCOL = dict(window="center", antialias=False, half=False, timestep=300,
                          anchor_grid=16)


class DiffSegGuidance(GuidanceProvider, name="diffseg"):
    """DiffSeg: segments from the self-attention of Stable Diffusion, without labels.

    A port of DiffSeg [1]_ on diffusers. For each square window of the image:

    1. resize to the UNet's native input (512 × 512 for Stable Diffusion v1.x), scale to
       [-1, 1] and encode with the VAE: the clean latent is the mean of the latent
       distribution times the VAE's scaling factor (no noise is added);
    2. one UNet pass at ``timestep`` (300) with the empty-prompt text embedding, during which
       a custom attention processor records every self-attention probability map, averaged
       over heads inside the processor and over the layers of each resolution (16 layers at
       64², 32², 16², 8² for SD v1.x: 5, 5, 5 and 1 of them);
    3. attention aggregation, anchor grid, iterative merging by symmetric KL, optional k-means
       refinement, bilinear upsampling (×8) and argmax: the pure functions of
       :mod:`skdynaguide.guidance._diffseg_ops`.

    The target side of the aggregation is the largest attention map (64 for SD), so smaller
    or other UNets work too.

    **The prior.** Stable Diffusion is trained without segmentation labels, so DiffSeg is an
    unsupervised (and zero-shot) segmenter; the segments are class-agnostic.

    **Published settings.** The original code fixes no defaults; its notebooks use two
    settings, available by name through :meth:`from_preset`:

    - ``"benchmark"``: the benchmark notebook on COCO-Stuff, threshold 1.1 for each of the
      three merging iterations, no k-means refinement;
    - ``"benchmark-cityscapes"``: the same on Cityscapes, threshold 0.9;
    - ``"demo"``: the demo notebook, threshold 0.9 with refinement.

    All three run the original's protocol: the central square (``window="center"``),
    resized without antialiasing (``antialias=False``), in full precision (``half=False``).
    The defaults of this class are the ``"benchmark"`` settings, the ones behind DiffSeg's
    published scores, except for how the image is covered: ``window="slide"`` segments the
    whole image and ``antialias=True`` avoids aliasing when a window larger than 512 pixels
    is shrunk, since a guide must label every pixel.

    **Non-square images.** The original segments only the central square
    (``window="center"``, the paper's protocol: a crop of side ``min(H, W)``, offsets rounded
    down, resized to 512); pixels outside it continue the labels of the square's nearest
    border pixel. To score DiffSeg as the paper does, crop the images and the ground truth to
    the central square first (:func:`~skdynaguide.guidance._diffseg_ops.center_square`), on
    which all window modes are the same. ``window="slide"`` (the default) covers the whole
    image with square windows of side ``min(H, W)`` sliding along the long side and
    overlapping by at least half a window (481 × 321: 2 windows, 16:9: 3 windows); each is
    segmented exactly as the original segments a square image, consecutive windows' segments
    are joined where they agree on most of their overlap, and each pixel takes the labels of
    the window whose centre is nearest
    (:func:`~skdynaguide.guidance._diffseg_ops.stitch_windows`). It costs one UNet pass per
    window and keeps the original's resolution and isotropy. ``"pad"`` reflects the image
    into a square (one pass; the image gets fewer latent cells and its mirror image takes
    part in the attention), ``"resize"`` stretches the image to a square (one pass;
    anisotropic).

    **Precision.** The original runs the VAE and the UNet in float32. Merging compares KL
    divergences with a threshold, so the small changes float16 makes to the attention maps
    can flip which locations merge near the threshold, and with them the segments; full
    precision is therefore the default and the setting of every preset. ``half=True`` runs
    the models in float16 on CUDA (less memory, faster) for users who accept that.

    **Weights.** The UNet, the VAE, the CLIP text encoder and its tokenizer are loaded on first
    use through ``from_pretrained(checkpoint, subfolder=...)`` and cached in memory per
    (checkpoint, device, dtype, cache directory), outside the provider's parameters (clones,
    ``GridSearchCV`` and pickles never copy them). The text encoder only serves to compute the
    empty-prompt embedding (the tokenizer's 77 tokens for SD: start token, then end-of-text
    padding), which is cached; it is released right away. Without network access download the
    four sub-folders on a connected machine (``hf download CompVis/stable-diffusion-v1-4
    --include "unet/*" "vae/*" "text_encoder/*" "tokenizer/*" --local-dir DIR``) and pass
    ``checkpoint=DIR``; a missing checkpoint raises
    :class:`~skdynaguide.guidance.WeightsNotFoundError` with these instructions, a missing
    ``diffusers`` an ImportError naming ``pip install "skdynaguide[diffseg]"``.

    Parameters
    ----------
    checkpoint : str or path-like, default="CompVis/stable-diffusion-v1-4"
        Hub repository id of a Stable Diffusion v1.x model (the original used v1.4), or a
        local directory with its diffusers sub-folders ``unet/``, ``vae/``,
        ``text_encoder/`` and ``tokenizer/``.
    device : str, default="auto"
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``...; an unavailable
        accelerator falls back to the CPU with a warning.
    local_files_only : bool, default=False
        Never try the network.
    cache_dir : str, path-like or None, default=None
        Hugging Face cache directory.
    half : bool, default=False
        Run the UNet and VAE in float16 on CUDA (ignored on the CPU, which always uses
        float32); see *Precision* above. Attention probabilities are always computed and
        accumulated in float32.
    timestep : int, default=300
        Diffusion timestep of the single UNet pass.
    kl_threshold : sequence of float, default=(1.1, 1.1, 1.1)
        Symmetric-KL threshold of each merging iteration; the number of iterations is its
        length. Larger thresholds merge more, giving fewer segments.
    refine : bool, default=False
        k-means refinement of the merged proposals (on in the original's demo, off in its
        benchmark; it adds one k-means over the 4096 attention distributions).
    anchor_grid : int, default=16
        Anchors per side of the anchor grid (16 × 16 = 256 initial proposals).
    window : {"slide", "center", "pad", "resize"}, default="slide"
        How a non-square image is covered (see above); square images are one window in all
        four modes.
    antialias : bool, default=True
        Low-pass filter a window larger than the model's input before shrinking it; False
        resizes as the original does (bilinear only). Windows smaller than the input are
        enlarged identically either way.
    chunk_size : int, default=1024
        Distributions per block in the KL computations (bounds their memory).

    See Also
    --------
    SegFormerGuidance : Guidance from a SegFormer supervised on ADE20K.
    skdynaguide.DynaGuideSegmenter.from_preset : ``"dynaguide-diffseg"`` is DynaGuide with
        this guide at the ``"benchmark"`` settings.

    Notes
    -----
    Output: an (H, W) map at the image's resolution; segment detail is that of the
    proposals, 64 × 64 per window for SD (upsampled ×8 to 512 and then to the window's size).

    Differences from the original code, none of which changes the algorithm: the symmetric
    KL is computed in float32 as two matrix products (the original computes the first
    iteration's in float16 and the later ones in float64), with probabilities clamped to
    1e-12 inside the logarithms; k-means clusters that end empty are dropped (the original's
    re-indexing would mislabel them); the proposals are upsampled to the model's input size
    (×8) and the label map then resized (nearest) to the window's size in the image.

    Memory. Attention maps are ``N × N`` per head with ``N = 4096`` at 64², i.e. 64 MiB in
    float32 per head and 512 MiB for SD's 8 heads if materialised at once. The processor
    computes one head at a time with an in-place softmax and accumulates the head mean, so a
    64² layer holds two 64 MiB buffers (running mean, current head) besides the
    per-resolution sums kept across layers (64 + 4 + 0.25 + 0.02 MiB). The aggregated
    ``(64, 64, 64, 64)`` tensor takes 64 MiB, the chunked KL 16 MiB per chunk of 1024
    distributions (instead of 256 × 4096 × 4096 values), k-means a 64 MiB copy on the CPU.

    Cost: ``OMP_NUM_THREADS=1 python benchmarks/bench_guidance_cost.py --providers
    diffseg`` measures the seconds per 512² window and the peak memory (float32 on the CPU)
    with a randomly initialised UNet of SD v1.4's size (860 M parameters) and an SD-size VAE
    saved and loaded back through this class, since random weights cost the same as trained
    ones. Most of the peak is reached by
    loading the libraries and the models; in float16 the models' weights take about 1.8 GiB.

    References
    ----------
    .. [1] J. Tian, L. Aggarwal, A. Colaco, Z. Kira, M. Gonzalez-Franco. "Diffuse, Attend, and
       Segment: Unsupervised Zero-Shot Segmentation using Stable Diffusion." CVPR 2024.

    Examples
    --------
    The published settings by name (parameters given alongside override them):

    >>> demo = DiffSegGuidance.from_preset("demo", checkpoint="sd-v1-4")
    >>> demo.kl_threshold, demo.refine, demo.window, demo.half
    ((0.9, 0.9, 0.9), True, 'center', False)

    Needs the ``diffseg`` extra and the Stable Diffusion weights:

    >>> from skdynaguide import DynaGuideSegmenter
    >>> provider = DiffSegGuidance(checkpoint="CompVis/stable-diffusion-v1-4")
    >>> seg = DynaGuideSegmenter(guidance=provider)          # doctest: +SKIP
    >>> labels = seg.fit_predict(image)                      # doctest: +SKIP
    """

    #: The original code's published settings (see the class description), by name.
    presets = MappingProxyType({
        name: MappingProxyType(dict(_ORIGINAL_PROTOCOL, **settings)) for name, settings in [
            ("benchmark", dict(kl_threshold=(1.1, 1.1, 1.1), refine=False)),
            ("benchmark-cityscapes", dict(kl_threshold=(0.9, 0.9, 0.9), refine=False)),
            ("demo", dict(kl_threshold=(0.9, 0.9, 0.9), refine=True)),
        ]
    })

    def __init__(
        self,
        checkpoint="CompVis/stable-diffusion-v1-4",
        device="auto",
        local_files_only=False,
        cache_dir=None,
        half=False,
        timestep=300,
        kl_threshold=(1.1, 1.1, 1.1),
        refine=False,
        anchor_grid=16,
        window="slide",
        antialias=True,
        chunk_size=1024,
    ):
        self.checkpoint = checkpoint
        self.device = device
        self.local_files_only = local_files_only
        self.cache_dir = cache_dir
        self.half = half
        self.timestep = timestep
        self.kl_threshold = kl_threshold
        self.refine = refine
        self.anchor_grid = anchor_grid
        self.window = window
        self.antialias = antialias
        self.chunk_size = chunk_size

    @classmethod
    def from_preset(cls, name, **params):
        """A provider with the original code's published settings, ``params`` overriding them.

        Parameters
        ----------
        name : {"benchmark", "benchmark-cityscapes", "demo"}
            The benchmark notebook's settings for COCO-Stuff (threshold 1.1, no refinement)
            or Cityscapes (0.9), or the demo notebook's (0.9 with refinement); all with the
            original's central-square protocol in full precision.
        **params
            Any constructor parameter, e.g. ``checkpoint=DIR`` or ``window="slide"`` to cover
            whole images.

        Examples
        --------
        >>> DiffSegGuidance.from_preset("benchmark", window="slide").get_params()["window"]
        'slide'
        """
        if name not in cls.presets:
            raise ValueError(
                f"unknown DiffSeg preset {name!r}; choose one of {sorted(cls.presets)}"
            )
        return cls(**{**cls.presets[name], **params})

    # -- parameters and model ---------------------------------------------------------------

    def _check_params(self):
        _hub.check_loading_params(self, ("local_files_only", "half", "refine", "antialias"))
        if isinstance(self.kl_threshold, (str, bytes, numbers.Number)) or not hasattr(
            self.kl_threshold, "__len__"
        ):
            raise TypeError(
                f"kl_threshold must be a sequence of numbers, one per merging iteration, got "
                f"{self.kl_threshold!r}"
            )
        if len(self.kl_threshold) == 0:
            raise ValueError("kl_threshold must hold at least one threshold")
        thresholds = [
            check_scalar_float(t, "kl_threshold[i]", min_value=0, strict=True) for t in self.kl_threshold
        ]
        if self.window not in _WINDOWS:
            raise ValueError(f"window must be one of {list(_WINDOWS)}, got {self.window!r}")
        device = resolve_device(self.device)
        return dict(
            thresholds=thresholds,
            timestep=check_scalar_int(self.timestep, "timestep", min_value=0),
            anchor_grid=check_scalar_int(self.anchor_grid, "anchor_grid", min_value=1),
            chunk_size=check_scalar_int(self.chunk_size, "chunk_size", min_value=1),
            device=device,
            dtype=torch.float16 if self.half and device.startswith("cuda") else torch.float32,
        )

    def _load_model(self, device, dtype):
        """The shared model bundle (UNet, VAE, empty-prompt embedding, input side, lock)."""
        name = type(self).__name__
        diffusers = _hub.import_optional("diffusers", "diffseg", name)
        transformers = _hub.import_optional("transformers", "diffseg", name)
        checkpoint = os.fspath(self.checkpoint)
        cache_dir = None if self.cache_dir is None else os.fspath(self.cache_dir)
        options = dict(
            what="Stable Diffusion",
            subfolders=_SUBFOLDERS,
            local_files_only=bool(self.local_files_only),
            cache_dir=cache_dir,
        )
        # without accelerate, diffusers prints a notice unless told not to try low-memory loading
        low_memory = dict(low_cpu_mem_usage=_hub.accelerate_available())

        def load():
            unet = _hub.from_pretrained(
                diffusers.UNet2DConditionModel, checkpoint, subfolder="unet", torch_dtype=dtype,
                **options, **low_memory,
            )
            vae = _hub.from_pretrained(
                diffusers.AutoencoderKL, checkpoint, subfolder="vae", torch_dtype=dtype,
                **options, **low_memory,
            )
            tokenizer = _hub.from_pretrained(
                transformers.CLIPTokenizer, checkpoint, subfolder="tokenizer", **options
            )
            text_encoder = _hub.from_pretrained(
                transformers.CLIPTextModel, checkpoint, subfolder="text_encoder", **options
            )
            ids = tokenizer(
                "", padding="max_length", max_length=tokenizer.model_max_length,
                truncation=True, return_tensors="pt",
            ).input_ids
            with torch.no_grad():
                embedding = text_encoder.eval()(ids)[0]
            vae_factor = 2 ** (len(vae.config.block_out_channels) - 1)
            return dict(
                unet=unet.eval().to(device=device),
                vae=vae.eval().to(device=device),
                embedding=embedding.to(device=device, dtype=dtype),
                side=int(unet.config.sample_size) * vae_factor,  # 64 × 8 = 512 for SD v1.x
                lock=threading.Lock(),
            )

        key = _hub.cache_key("diffseg", checkpoint, device, dtype, cache_dir)
        return _hub.load_cached(key, load)

    # -- segmentation -----------------------------------------------------------------------

    def segment(self, image, random_state=None):
        params = self._check_params()
        model = self._load_model(params["device"], params["dtype"])
        height, width = image.shape[:2]
        if self.window == "resize" or height == width:
            return self._segment_window(model, image, params, random_state)
        if self.window == "center":
            top, left, side = ops.center_square(height, width)
            labels = self._segment_window(
                model, image[top:top + side, left:left + side], params, random_state
            )
            # the original labels only the square; a guide must label every pixel, and the
            # nearest labelled pixel is the least arbitrary choice
            return np.pad(labels, ((top, height - side - top), (left, width - side - left)),
                          mode="edge")
        if self.window == "pad":
            side = max(height, width)
            top, left = (side - height) // 2, (side - width) // 2
            padded = np.pad(
                image, ((top, side - height - top), (left, side - width - left), (0, 0)),
                mode="symmetric",
            )
            labels = self._segment_window(model, padded, params, random_state)
            return labels[top:top + height, left:left + width]
        # "slide": square windows along the long side, each segmented as it is (never
        # transposed: the model sees the image upright); the label maps of a tall image are
        # transposed only for stitching, which works along columns.
        tall = height > width
        side, length = min(height, width), max(height, width)
        starts = ops.window_starts(length, side)
        windows = []
        for s in starts:
            crop = image[s:s + side] if tall else image[:, s:s + side]
            labels = self._segment_window(model, crop, params, random_state)
            windows.append(labels.T if tall else labels)
        labels = ops.stitch_windows(windows, starts, length)
        return labels.T if tall else labels

    def _segment_window(self, model, crop, params, random_state):
        """DiffSeg on one crop (square except with ``window="resize"``): labels of its size."""
        with torch.inference_mode():
            attention = self._attention(model, crop, params)
            anchors = ops.anchor_grid(params["anchor_grid"], attention.shape[0])
            proposals = ops.iterative_merging(
                attention, anchors, params["thresholds"], params["chunk_size"]
            )
            if self.refine:
                proposals = ops.refine_proposals(attention, proposals, random_state=random_state)
            del attention
            labels = ops.proposals_to_labels(proposals, (model["side"], model["side"]))
        return ops.resize_labels(labels, crop.shape[:2])

    def _attention(self, model, crop, params):
        """Aggregated self-attention ``(R, R, R, R)`` of one crop (steps 1–2 of the class doc)."""
        device, dtype, side = params["device"], params["dtype"], model["side"]
        pixels = ops.model_input(crop, side, self.antialias).to(device=device, dtype=dtype)
        vae, unet = model["vae"], model["unet"]
        with model["lock"], torch.inference_mode():
            latent = vae.encode(pixels).latent_dist.mean * vae.config.scaling_factor
            timestep = torch.tensor([params["timestep"]], device=device)
            with capture_self_attention(unet) as store:
                unet(latent, timestep, encoder_hidden_states=model["embedding"])
            maps = store.means()
            return ops.aggregate_attention(maps)


class AttentionStore:
    """Running sums of self-attention probabilities per resolution (batch element 0)."""

    def __init__(self):
        self.sums = {}
        self.counts = {}

    def add(self, probs):
        """Add one layer's head-averaged map of shape (B, N, N)."""
        n = probs.shape[-1]
        if n in self.sums:
            self.sums[n] += probs[0]
            self.counts[n] += 1
        else:
            self.sums[n] = probs[0].clone()
            self.counts[n] = 1

    def means(self):
        """{side: (side², side²) mean over the layers of that resolution}, largest side first."""
        out = {}
        for n in sorted(self.sums, reverse=True):
            out[ops._side(n)] = self.sums[n] / self.counts[n]
        return out


class SelfAttentionCapture:
    """Attention processor that computes softmax(QKᵀ·scale) explicitly and records it.

    The default (SDPA) processor never materialises the probabilities. This one computes them
    one head at a time in float32 with an in-place softmax, adds the head mean to ``store``
    (so at most two ``N × N`` buffers per batch element exist at once) and returns the same
    output as diffusers' ``AttnProcessor``.
    """

    def __init__(self, store):
        self.store = store

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None,
                 temb=None, *args, **kwargs):
        if encoder_hidden_states is not None or attention_mask is not None:
            raise ValueError("SelfAttentionCapture only handles unmasked self-attention")
        residual = hidden_states
        if attn.spatial_norm is not None:
            hidden_states = attn.spatial_norm(hidden_states, temb)
        input_ndim = hidden_states.ndim
        if input_ndim == 4:
            batch, channel, height, width = hidden_states.shape
            hidden_states = hidden_states.view(batch, channel, height * width).transpose(1, 2)
        if attn.group_norm is not None:
            hidden_states = attn.group_norm(hidden_states.transpose(1, 2)).transpose(1, 2)
        batch, n_tokens, _ = hidden_states.shape
        heads = attn.heads

        def split(x):  # (B, N, heads·d) -> (B, heads, N, d)
            return x.view(batch, n_tokens, heads, -1).transpose(1, 2)

        query = split(attn.to_q(hidden_states))
        key = split(attn.to_k(hidden_states))
        value = split(attn.to_v(hidden_states))
        mean = torch.zeros((batch, n_tokens, n_tokens), dtype=torch.float32, device=query.device)
        out = torch.empty_like(query)
        for h in range(heads):
            probs = torch.matmul(query[:, h].float(), key[:, h].float().transpose(1, 2))
            probs.mul_(attn.scale)
            probs.sub_(probs.amax(dim=-1, keepdim=True)).exp_()
            probs.div_(probs.sum(dim=-1, keepdim=True))
            mean.add_(probs)
            out[:, h] = torch.matmul(probs.to(value.dtype), value[:, h])
            del probs
        self.store.add(mean.div_(heads))
        hidden_states = out.transpose(1, 2).reshape(batch, n_tokens, -1)
        hidden_states = attn.to_out[1](attn.to_out[0](hidden_states))
        if input_ndim == 4:
            hidden_states = hidden_states.transpose(-1, -2).reshape(batch, channel, height, width)
        if attn.residual_connection:
            hidden_states = hidden_states + residual
        return hidden_states / attn.rescale_output_factor


@contextmanager
def capture_self_attention(unet):
    """Record the self-attention (``attn1``) maps of ``unet`` while in the block.

    Cross-attention layers keep their processors; the original processors are restored on
    exit. Yields the :class:`AttentionStore`.
    """
    original = dict(unet.attn_processors)
    store = AttentionStore()
    unet.set_attn_processor({
        name: SelfAttentionCapture(store) if name.endswith("attn1.processor") else proc
        for name, proc in original.items()
    })
    try:
        yield store
    finally:
        unet.set_attn_processor(original)
