"""DynaSeg's alternative feature extractor: an ImageNet ResNet-18 with an FPN decoder.

:class:`ResNetFPN` is the recipe (``network="resnet18-fpn"`` or ``network=ResNetFPN(...)``);
:class:`ResNetFPNNet` the module it builds for every image. The pretrained backbone is
loaded once through transformers and cached outside the estimator (as the guidance
providers' models are); each image trains its own deep copy, so the cached weights are never
modified and never pickled with an estimator.
"""
from __future__ import annotations

import copy
import os
import re

import torch
import torch.nn.functional as F
from torch import nn

from .. import _hub
from .._image import IMAGENET_MEAN, IMAGENET_STD, check_scalar_int
from ..training.network import NetworkBuilder

__all__ = ["ResNetFPN", "ResNetFPNNet"]

#: The architecture of ``microsoft/resnet-18`` (torchvision's ResNet-18), used when
#: ``pretrained=False``: a random initialisation needs no checkpoint.
RESNET18_CONFIG = dict(embedding_size=64, hidden_sizes=[64, 128, 256, 512], depths=[2, 2, 2, 2],
                       layer_type="basic", downsample_in_first_stage=False)


#: A ``checkpoint`` ending so is a torch hub / torchvision weights file on disk.
TORCH_FILE_SUFFIXES = (".pth", ".pt")

_TORCHVISION_KEY = re.compile(r"layer(\d)\.(\d+)\.(conv|bn|downsample\.)(\d)\.?(.*)")


def _torchvision_key(key):
    """torchvision ResNet parameter name -> transformers ``ResNetModel`` name (None: drop)."""
    if key.startswith("fc."):
        return None  # the ImageNet classifier head
    if key.startswith("conv1."):
        return "embedder.embedder.convolution." + key[len("conv1."):]
    if key.startswith("bn1."):
        return "embedder.embedder.normalization." + key[len("bn1."):]
    match = _TORCHVISION_KEY.fullmatch(key)
    if match is None:
        raise ValueError(f"unexpected parameter {key!r} for a torchvision ResNet")
    stage, block, kind, index, rest = match.groups()
    prefix = f"encoder.stages.{int(stage) - 1}.layers.{block}."
    if kind == "downsample.":  # downsample.0 is the 1x1 conv, downsample.1 its BatchNorm
        part = "convolution" if index == "0" else "normalization"
        return f"{prefix}shortcut.{part}.{rest}"
    part = "convolution" if kind == "conv" else "normalization"
    return f"{prefix}layer.{int(index) - 1}.{part}.{rest}"


def load_torchvision_resnet(path, transformers):
    """A transformers ``ResNetModel`` holding the weights of a torchvision ResNet-18/34 file.

    The file is what ``torch.hub`` downloads for ``torchvision.models.resnet18`` (e.g.
    ``resnet18-f37072fd.pth``): a state dict, possibly wrapped in ``{"state_dict": ...}``.
    Depths and widths are read from the tensors; bottleneck ResNets (50 and deeper) are
    refused.
    """
    from ..guidance import WeightsNotFoundError

    path = os.path.abspath(os.path.expanduser(path))
    if not os.path.isfile(path):
        raise WeightsNotFoundError(
            f"the ResNet weights file {path} does not exist. On a machine with internet access, "
            "download torchvision's ResNet-18 weights (https://download.pytorch.org/models/"
            "resnet18-f37072fd.pth), copy the file here and pass checkpoint=<file>, or pass a "
            "transformers checkpoint directory (hf download microsoft/resnet-18 --local-dir DIR)"
        )
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or "conv1.weight" not in state:
        raise ValueError(f"{path} is not a torchvision ResNet state dict (no 'conv1.weight')")
    if any(".conv3." in key for key in state):
        raise ValueError(f"{path} holds a bottleneck ResNet (50 or deeper); only the basic-block "
                         "ResNet-18/34 files of torchvision are supported")
    depths = [1 + max((int(k.split(".")[1]) for k in state if k.startswith(f"layer{i}.")),
                      default=-1) for i in range(1, 5)]
    if 0 in depths:
        raise ValueError(f"{path} lacks some of the stages layer1..layer4 of a ResNet")
    config = transformers.ResNetConfig(
        embedding_size=state["conv1.weight"].shape[0],
        hidden_sizes=[state[f"layer{i}.0.conv2.weight"].shape[0] for i in range(1, 5)],
        depths=depths, layer_type="basic", downsample_in_first_stage=False,
    )
    model = transformers.ResNetModel(config)
    renamed = {new: value for key, value in state.items()
               if (new := _torchvision_key(key)) is not None}
    model.load_state_dict(renamed, strict=True)
    return model


class ResNetFPN(NetworkBuilder, name="resnet18-fpn"):
    """ResNet-18 stem and first stages, FPN decoder to full resolution, 1×1 response + BN.

    DynaSeg's second feature extractor (Guermazi & Khan 2024) in place of the small CNN:

    1. the image, ImageNet-normalised, is padded (edge replication, bottom and right) to a
       multiple of the deepest stride, so every pyramid level is exactly half the one
       before;
    2. ResNet stem (7×7 conv stride 2 · BN · ReLU, stride 2) and, after the 3×3 max-pool,
       the first ``stages`` residual stages (strides 4, 8, 16, 32);
    3. FPN: a lateral 1×1 conv maps every level (the stem's included) to p = ``n_features``
       channels; from the deepest level down, each is upsampled ×2 (nearest) and added to the
       next finer lateral; the finest sum (stride 2) goes through conv 3×3 · ReLU · BN;
    4. bilinear ×2 upsampling to the padded size and a crop back to the input size;
    5. the small CNN's response layer: conv 1×1 (p → q) · BatchNorm, named ``response``.

    The training loop, losses and argmax are those of the small CNN; only the network differs.
    The new layers (laterals, 3×3 conv, response) are initialised from the training seed; the
    backbone starts from the pretrained weights and, unless ``freeze_backbone``, is trained
    with the rest (the whole network is per image).

    **Weights.** ``transformers.ResNetModel.from_pretrained(checkpoint)``, loaded on first use
    and cached in memory per (checkpoint, cache directory), outside the parameters: clones,
    ``GridSearchCV`` and pickles never copy it. Every network gets a deep copy of the cached
    backbone, which stays in eval mode with gradients off. Offline, download the checkpoint
    on a connected machine (``hf download microsoft/resnet-18 --local-dir DIR``) and pass
    ``checkpoint=DIR``; a missing checkpoint raises
    :class:`~skdynaguide.guidance.WeightsNotFoundError` with these instructions.

    Parameters
    ----------
    checkpoint : str or path-like, default="microsoft/resnet-18"
        Hugging Face Hub repository id or local directory of a transformers ResNet (a
        ``ResNetModel`` or ``ResNetForImageClassification`` checkpoint; any depth works, the
        lateral convs adapt to its widths), or a torch hub / torchvision weights file on
        disk ending in ``.pth`` or ``.pt`` (``resnet18-f37072fd.pth``; ResNet-18 or 34).
    pretrained : bool, default=True
        False initialises the ResNet-18 architecture randomly (from the training seed)
        instead: no checkpoint is read and ``checkpoint``, ``local_files_only`` and
        ``cache_dir`` are ignored.
    stages : int, default=3
        Residual stages used after the stem, 1 to 4 (conv1..layer3 by default; 4 adds
        layer4 at stride 32). Fewer stages are cheaper and keep finer detail.
    freeze_backbone : bool, default=False
        Keep the pretrained backbone fixed (no gradients, BatchNorm in eval mode with
        ImageNet statistics) and train only the FPN and response layers.
    local_files_only : bool, default=False
        Never try the network (the Hugging Face cache or the ``checkpoint`` directory only).
    cache_dir : str, path-like or None, default=None
        Hugging Face cache directory (None: ``HF_HOME`` or ``~/.cache/huggingface``).

    See Also
    --------
    skdynaguide.training.network.DynaGuideNet : The default network (``network="cnn"``).

    Notes
    -----
    With ``n_jobs > 1`` every joblib worker process loads the checkpoint once into its own
    cache.

    The DynaSeg authors' released code differs from the paper's description: it keeps only
    ResNet-18's stem convolution and ``layer1`` (no max-pool), upsamples once by 2 with a 3×3
    conv and crops or zero-pads to the input size. Here the FPN is the standard one (Lin et
    al. 2017) over ``stages`` levels, with the stride-2 stem level as its finest input so that
    the output is only upsampled ×2.

    References
    ----------
    .. [1] B. Guermazi, N. Khan. "DynaSeg: A deep dynamic fusion method for unsupervised image
       segmentation incorporating feature similarity and spatial continuity." 2024.
    .. [2] T.-Y. Lin, P. Dollár, R. Girshick, K. He, B. Hariharan, S. Belongie. "Feature
       pyramid networks for object detection." CVPR 2017.

    Examples
    --------
    A randomly initialised ResNet-18 (no weights needed); the output keeps the input size:

    >>> import torch
    >>> net = ResNetFPN(pretrained=False, stages=2)(n_features=8, n_clusters=5)
    >>> net(torch.rand(1, 3, 21, 30)).shape
    torch.Size([1, 5, 21, 30])

    With the pretrained weights (downloaded once, or a local directory):

    >>> from skdynaguide import DynaGuideSegmenter
    >>> seg = DynaGuideSegmenter(network=ResNetFPN(checkpoint="microsoft/resnet-18"))
    >>> labels = seg.fit_predict(image)                      # doctest: +SKIP
    """

    def __init__(self, checkpoint="microsoft/resnet-18", pretrained=True, stages=3,
                 freeze_backbone=False, local_files_only=False, cache_dir=None):
        self.checkpoint = checkpoint
        self.pretrained = pretrained
        self.stages = stages
        self.freeze_backbone = freeze_backbone
        self.local_files_only = local_files_only
        self.cache_dir = cache_dir

    def validate(self):
        _hub.check_loading_params(self, ("pretrained", "freeze_backbone", "local_files_only"))
        check_scalar_int(self.stages, "ResNetFPN.stages", min_value=1)
        if self.stages > 4:
            raise ValueError(f"ResNetFPN.stages must be between 1 and 4, got {self.stages}")
        return self

    def _pretrained_backbone(self):
        """The cached pretrained ``ResNetModel`` (CPU, float32, eval mode, no gradients)."""
        transformers = _hub.import_optional("transformers", "pretrained", type(self).__name__)
        checkpoint = os.fspath(self.checkpoint)
        cache_dir = None if self.cache_dir is None else os.fspath(self.cache_dir)

        def load():
            if checkpoint.endswith(TORCH_FILE_SUFFIXES):
                model = load_torchvision_resnet(checkpoint, transformers)
            else:
                model = _hub.from_pretrained(transformers.ResNetModel, checkpoint, what="ResNet",
                                             local_files_only=bool(self.local_files_only),
                                             cache_dir=cache_dir)
            return model.float().eval().requires_grad_(False)

        key = _hub.cache_key("resnet", checkpoint, "cpu", torch.float32, cache_dir)
        # loading must not draw from the training seed's generator: the new layers would
        # then be initialised differently on the first fit and on later (cached) ones
        with torch.random.fork_rng(devices=[]):
            return _hub.load_cached(key, load)

    def build(self, n_features, n_clusters):
        self.validate()
        if self.pretrained:
            backbone = copy.deepcopy(self._pretrained_backbone())
        else:
            transformers = _hub.import_optional("transformers", "pretrained", type(self).__name__)
            backbone = transformers.ResNetModel(transformers.ResNetConfig(**RESNET18_CONFIG))
        config = backbone.config
        if self.stages > len(config.hidden_sizes):
            raise ValueError(
                f"ResNetFPN.stages={self.stages} but the checkpoint {self.checkpoint!r} has "
                f"{len(config.hidden_sizes)} stages"
            )
        if config.num_channels != 3:
            raise ValueError(f"the checkpoint {self.checkpoint!r} takes {config.num_channels} "
                             "input channels; RGB (3) is needed")
        stride = 4 * (2 if config.downsample_in_first_stage else 1) * 2 ** (self.stages - 1)
        return ResNetFPNNet(
            stem=backbone.embedder.embedder,
            pool=backbone.embedder.pooler,
            stages=list(backbone.encoder.stages[:self.stages]),
            widths=[config.embedding_size] + list(config.hidden_sizes[:self.stages]),
            stride=stride,
            n_features=n_features,
            n_clusters=n_clusters,
            freeze_backbone=bool(self.freeze_backbone),
        )


class ResNetFPNNet(nn.Module):
    """The module :class:`ResNetFPN` builds: backbone levels → FPN → full-size response.

    Parameters
    ----------
    stem : nn.Module
        The ResNet stem (stride 2), applied to the normalised image.
    pool : nn.Module
        The max-pool between the stem and the first stage (stride 2).
    stages : list of nn.Module
        Residual stages, each taking the previous one's output.
    widths : list of int
        Output channels of the stem and of every stage.
    stride : int
        Total stride of the deepest level; inputs are padded to a multiple of it.
    n_features : int
        Width p of the FPN (the features entering the response layer).
    n_clusters : int
        Number q of response channels.
    freeze_backbone : bool
        Stem and stages without gradients and with BatchNorm always in eval mode.

    Examples
    --------
    Built by :class:`~skdynaguide.ResNetFPN` (here randomly initialised, no weights needed):

    >>> import torch
    >>> from skdynaguide import ResNetFPN
    >>> net = ResNetFPN(pretrained=False, stages=2)(n_features=8, n_clusters=5)
    >>> type(net).__name__, net(torch.rand(1, 3, 16, 16)).shape
    ('ResNetFPNNet', torch.Size([1, 5, 16, 16]))
    """

    def __init__(self, stem, pool, stages, widths, stride, n_features, n_clusters,
                 freeze_backbone=False):
        super().__init__()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.stem, self.pool, self.stages = stem, pool, nn.ModuleList(stages)
        self.stride = stride
        self.freeze_backbone = freeze_backbone
        self.lateral = nn.ModuleList(nn.Conv2d(width, n_features, kernel_size=1)
                                     for width in widths)
        self.smooth = nn.Sequential(
            nn.Conv2d(n_features, n_features, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.BatchNorm2d(n_features),
        )
        self.response = nn.Sequential(
            nn.Conv2d(n_features, n_clusters, kernel_size=1), nn.BatchNorm2d(n_clusters)
        )
        for module in self._backbone():  # the cached copy it comes from has gradients off
            module.requires_grad_(not freeze_backbone)

    def _backbone(self):
        return [self.stem, self.stages]

    def train(self, mode=True):
        super().train(mode)
        if self.freeze_backbone:  # a frozen backbone keeps its ImageNet BatchNorm statistics
            for module in self._backbone():
                module.eval()
        return self

    def _padding(self, height, width):
        """(bottom, right) padding to a multiple of the stride, with >= 2 deepest cells."""
        cells_h, cells_w = -(-height // self.stride), -(-width // self.stride)
        if cells_h * cells_w < 2:  # BatchNorm in training needs two values per channel
            cells_w = 2
        return cells_h * self.stride - height, cells_w * self.stride - width

    def forward(self, x):
        height, width = x.shape[-2:]
        x = (x - self.mean) / self.std
        pad_h, pad_w = self._padding(height, width)
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.freeze_backbone):
            levels = [self.stem(x)]
            out = self.pool(levels[0])
            for stage in self.stages:
                out = stage(out)
                levels.append(out)
        merged = self.lateral[-1](levels[-1])
        for lateral, level in zip(self.lateral[-2::-1], levels[-2::-1]):
            merged = lateral(level) + F.interpolate(merged, size=level.shape[-2:], mode="nearest")
        out = F.interpolate(self.smooth(merged), size=x.shape[-2:], mode="bilinear",
                            align_corners=False)
        return self.response(out[..., :height, :width])
