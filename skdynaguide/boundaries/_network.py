"""The small boundary network, its input features and its version-robust file format.

The file is a plain ``.npz`` of float32 arrays (``numpy.load(..., allow_pickle=False)``):
``format_version``, ``meta`` (a JSON string: the architecture and how the weights were
trained) and one ``w:<name>`` array per parameter of :class:`BoundaryNet`. Nothing in it is
pickled, so it loads with any numpy and torch version.
"""
from __future__ import annotations

import json
import zipfile

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ._features import lab_gradients, normalised_lab

__all__ = ["BoundaryNet", "ModelFileError", "input_features", "save_model", "read_model",
           "FORMAT_VERSION", "FEATURE_SIGMAS"]

#: Bumped whenever the file layout or the meaning of the input features changes.
FORMAT_VERSION = 1
#: Scales of the hand-made gradient channels given to the network with the Lab image.
FEATURE_SIGMAS = (1.0, 2.0, 4.0)


class ModelFileError(OSError):
    """A boundary model file is missing, unreadable, truncated or of another format.

    A subclass of :class:`OSError`; its message names the file.

    Examples
    --------
    >>> from skdynaguide.boundaries import ModelFileError, load_boundary_model
    >>> try:
    ...     load_boundary_model("no-such-model.npz")
    ... except ModelFileError as exc:
    ...     print(exc)
    boundary model file not found: no-such-model.npz
    """


def input_features(rgb):
    """The network's input: normalised Lab and its gradient magnitudes, (C, H, W) float32."""
    lab = normalised_lab(rgb)
    grads = lab_gradients(lab, FEATURE_SIGMAS).reshape(-1, *lab.shape[:2])
    return np.concatenate([lab.transpose(2, 0, 1), grads], axis=0).astype(np.float32)


def n_input_channels():
    return 3 + 3 * len(FEATURE_SIGMAS)


class BoundaryNet(nn.Module):
    """HED-like network: a full-resolution stem and two dilated stages at 1/2 and 1/4.

    Every stage has a side output (one logit per pixel, upsampled to full resolution);
    a 1×1 convolution fuses them. Training supervises the sides and the fusion.

    Parameters
    ----------
    in_channels : int
        Input feature channels (see :func:`input_features`).
    stem : int
        Channels at full resolution.
    widths : tuple of int
        Channels of the 1/2 and 1/4 stages.
    dilations : tuple of tuple of int
        Dilations of the residual 3×3 convolutions of each stage; they widen the context
        without downsampling further.
    """

    def __init__(self, in_channels=12, stem=16, widths=(32, 48),
                 dilations=((1, 2, 4), (1, 2, 4, 8))):
        super().__init__()
        self.config = dict(in_channels=in_channels, stem=stem, widths=list(widths),
                           dilations=[list(d) for d in dilations])
        self.stem = nn.Conv2d(in_channels, stem, 3, padding=1)
        self.down = nn.ModuleList()
        self.stages = nn.ModuleList()
        self.sides = nn.ModuleList([nn.Conv2d(stem, 1, 1)])
        previous = stem
        for width, dils in zip(widths, dilations):
            self.down.append(nn.Conv2d(previous, width, 3, stride=2, padding=1))
            self.stages.append(nn.ModuleList(
                [nn.Conv2d(width, width, 3, padding=d, dilation=d) for d in dils]))
            self.sides.append(nn.Conv2d(width, 1, 1))
            previous = width
        self.fuse = nn.Conv2d(len(self.sides), 1, 1)
        with torch.no_grad():
            self.fuse.weight.fill_(1.0 / len(self.sides))
            self.fuse.bias.zero_()

    def forward(self, x):
        """Logits ``(N, 1 + n_sides, H, W)``: the fused map first, then each side."""
        size = x.shape[-2:]
        h = F.relu(self.stem(x))
        sides = [self.sides[0](h)]
        for k, (down, stage) in enumerate(zip(self.down, self.stages)):
            h = F.relu(down(h))
            for conv in stage:
                h = h + F.relu(conv(h))
            side = self.sides[k + 1](h)
            sides.append(F.interpolate(side, size=size, mode="bilinear", align_corners=False))
        sides = torch.cat(sides, dim=1)
        return torch.cat([self.fuse(sides), sides], dim=1)

    @torch.no_grad()
    def predict(self, features):
        """Boundary probability (H, W) of one (C, H, W) feature array."""
        c, h, w = features.shape
        multiple = 2 ** len(self.stages)
        pad_h, pad_w = (-h) % multiple, (-w) % multiple
        x = torch.from_numpy(np.ascontiguousarray(features))[None]
        if pad_h or pad_w:
            # reflection needs the pad to be smaller than the image (tiny images replicate)
            mode = "reflect" if pad_h < h and pad_w < w else "replicate"
            x = F.pad(x, (0, pad_w, 0, pad_h), mode=mode)
        logits = self.forward(x)[0, 0, :h, :w]
        return torch.sigmoid(logits).numpy()


def save_model(net, path, meta=None):
    """Write ``net`` to ``path`` (``.npz``) with its architecture and ``meta`` (JSON-able)."""
    arrays = {f"w:{k}": v.detach().cpu().numpy().astype(np.float32)
              for k, v in net.state_dict().items()}
    info = {"architecture": net.config, **(meta or {})}
    with open(path, "wb") as fh:
        np.savez_compressed(fh, format_version=np.array(FORMAT_VERSION),
                            meta=np.array(json.dumps(info)), **arrays)


def read_model(path):
    """Load a file written by :func:`save_model`; returns ``(net, meta)`` in eval mode.

    Raises
    ------
    ModelFileError
        When the file is missing, unreadable, truncated, corrupted, of another format
        version or does not match the architecture it declares; the message names the file.
    """
    path = str(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise ModelFileError(f"boundary model file not found: {path}") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        raise ModelFileError(f"boundary model file {path} is unreadable, truncated or "
                             f"corrupted ({type(exc).__name__}: {exc})") from None
    if "format_version" not in data or "meta" not in data:
        raise ModelFileError(f"{path} is not a boundary model file (no format_version/meta)")
    version = int(data["format_version"])
    if version != FORMAT_VERSION:
        raise ModelFileError(f"boundary model file {path} has format version {version}; this "
                             f"version of skdynaguide reads version {FORMAT_VERSION}")
    try:
        meta = json.loads(str(data["meta"]))
        net = BoundaryNet(**meta["architecture"])
        state = {k[2:]: torch.from_numpy(v) for k, v in data.items() if k.startswith("w:")}
        net.load_state_dict(state, strict=True)
    except (ValueError, KeyError, TypeError, RuntimeError) as exc:
        raise ModelFileError(f"boundary model file {path} does not hold a valid model "
                             f"({type(exc).__name__}: {exc})") from None
    return net.eval(), meta
