"""Resolution of the ``device`` parameter (skorch-style: warn and fall back to the CPU)."""
from __future__ import annotations

import warnings

import torch

__all__ = ["resolve_device", "check_precision", "autocast"]


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


PRECISIONS = ("auto", "float32", "bfloat16")


def native_cpu_bfloat16():
    """Whether this CPU computes in bfloat16 natively (AVX-512 BF16 or AMX tiles).

    Without them torch emulates bfloat16 arithmetic on the CPU, which is slower than
    float32.
    """
    checks = [getattr(torch.cpu, name, None)
              for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    return any(bool(check()) for check in checks if check is not None)


def check_precision(precision, device):
    """The precision to train with on the resolved ``device``: ``precision`` resolved.

    ``"float32"`` runs everywhere. ``"bfloat16"`` runs the network's forward passes under
    :func:`torch.autocast` with bfloat16, which torch offers on the CPU and on CUDA devices
    that support it (Ampere or newer); elsewhere a ``ValueError`` says so. ``"auto"`` is
    ``"bfloat16"`` on a CPU that computes it natively (:func:`native_cpu_bfloat16`) and
    ``"float32"`` everywhere else, GPUs included.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    if precision == "auto":
        native = torch.device(device).type == "cpu" and native_cpu_bfloat16()
        return "bfloat16" if native else "float32"
    if precision == "bfloat16":
        kind = torch.device(device).type
        if kind not in ("cpu", "cuda"):
            raise ValueError(f"precision='bfloat16' trains on the CPU or a CUDA device, not on "
                             f"{device!r}; use precision='float32'")
        if kind == "cuda" and not torch.cuda.is_bf16_supported():
            raise ValueError(f"precision='bfloat16' needs a CUDA device with bfloat16 support "
                             f"(Ampere or newer); {device!r} has none: use precision='float32'")
    return precision


def autocast(precision, device):
    """The context in which a network's forward pass runs at ``precision`` on ``device``.

    Examples
    --------
    >>> import torch
    >>> from skdynaguide._device import autocast
    >>> with autocast("bfloat16", "cpu"):
    ...     y = torch.nn.Linear(2, 2)(torch.ones(1, 2))
    >>> y.dtype
    torch.bfloat16
    """
    return torch.autocast(torch.device(device).type, dtype=torch.bfloat16,
                          enabled=precision == "bfloat16")
