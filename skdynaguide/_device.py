"""Resolution of the ``device`` parameter (skorch-style: warn and fall back to the CPU)."""
from __future__ import annotations

import warnings

import torch

__all__ = ["resolve_device"]


def resolve_device(device):
    """Turn ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``... into a torch device string.

    ``"auto"`` picks CUDA when available, else the CPU. An accelerator that is requested but
    not available gives a ``UserWarning`` and the CPU, so that a script written on a GPU
    machine still runs on a laptop.
    """
    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str):
        raise TypeError(f"device must be a string such as 'auto', 'cpu' or 'cuda', got {device!r}")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        parsed = torch.device(device)
    except RuntimeError:
        raise ValueError(
            f"device {device!r} is not a torch device; use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'"
        ) from None
    if parsed.type == "cuda":
        if not torch.cuda.is_available():
            warnings.warn(f"device={device!r} but CUDA is not available; using the CPU", UserWarning, stacklevel=3)
            return "cpu"
        if parsed.index is not None and parsed.index >= torch.cuda.device_count():
            raise ValueError(
                f"device {device!r} does not exist: {torch.cuda.device_count()} CUDA device(s) found"
            )
    elif parsed.type == "mps" and not (
        hasattr(torch.backends, "mps") and torch.backends.mps.is_available()
    ):
        warnings.warn(f"device={device!r} but MPS is not available; using the CPU", UserWarning, stacklevel=3)
        return "cpu"
    elif parsed.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device type {parsed.type!r} is not supported; use 'cpu', 'cuda' or 'mps'")
    return str(parsed)
