"""Lazy loading of pretrained models: optional imports, the model cache, clear offline errors.

The parts that need pretrained weights (the guidance providers
:class:`~skdynaguide.guidance.SegFormerGuidance` and
:class:`~skdynaguide.guidance.DiffSegGuidance`, the network builder
:class:`~skdynaguide.ResNetFPN`, the region embedder
:class:`~skdynaguide.family.embedding.DINOEmbedder`) store only their parameters. The models they
load live here, in one module-level cache keyed by what determines the weights in memory
(model kind, checkpoint, device, dtype, cache directory), so that :func:`sklearn.base.clone`,
``GridSearchCV`` and :mod:`pickle` never copy or serialise a model, and two objects with the
same checkpoint share one copy.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import threading

import numpy as np

__all__ = [
    "WeightsNotFoundError",
    "clear_model_cache",
    "from_pretrained",
    "import_optional",
    "load_cached",
]

_CACHE = {}
_CACHE_LOCK = threading.RLock()


class WeightsNotFoundError(FileNotFoundError):
    """Pretrained weights are neither in the given directory nor in the Hugging Face cache.

    A subclass of :class:`FileNotFoundError` (hence of :class:`OSError`); its message says
    how to download the weights on a connected machine and where to put them.

    Examples
    --------
    >>> from skdynaguide.guidance import WeightsNotFoundError
    >>> issubclass(WeightsNotFoundError, FileNotFoundError)
    True
    >>> from skdynaguide.guidance import SegFormerGuidance
    >>> provider = SegFormerGuidance(checkpoint="/no/such/dir", local_files_only=True)
    >>> try:
    ...     provider(np.zeros((8, 8, 3)))
    ... except WeightsNotFoundError as error:
    ...     print("weights missing")
    weights missing
    """


def import_optional(module, extra, provider):
    """Import ``module`` or explain which optional extra of skdynaguide installs it.

    Parameters
    ----------
    module : str
        The module to import (``"transformers"``, ``"diffusers"``).
    extra : str
        The pip extra that installs it (``"segformer"``, ``"diffseg"``).
    provider : str
        The class that needs it, named in the message.
    """
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise ImportError(
            f"{provider} needs the optional dependency {module!r}, which could not be "
            f"imported ({error}). Install it with:  pip install \"skdynaguide[{extra}]\""
        ) from error


def check_loading_params(provider, flags):
    """Validate the parameters shared by the pretrained providers (types only, no loading).

    ``provider.checkpoint`` must be a string or path, ``provider.cache_dir`` None or a path,
    and each attribute named in ``flags`` a bool.
    """
    if not isinstance(provider.checkpoint, (str, os.PathLike)):
        raise TypeError(f"checkpoint must be a string or a path, got {provider.checkpoint!r}")
    if provider.cache_dir is not None and not isinstance(provider.cache_dir, (str, os.PathLike)):
        raise TypeError(f"cache_dir must be None, a string or a path, got {provider.cache_dir!r}")
    for name in flags:
        if not isinstance(getattr(provider, name), (bool, np.bool_)):
            raise TypeError(f"{name} must be a bool, got {getattr(provider, name)!r}")


def is_local_path(checkpoint):
    """Whether ``checkpoint`` is meant as a directory rather than a Hub repository id.

    A repository id is ``name`` or ``owner/name``; anything that exists on disk, is absolute,
    starts with ``.`` or ``~``, or has more than one separator is a path.
    """
    return (
        os.path.exists(checkpoint)
        or os.path.isabs(checkpoint)
        or checkpoint.startswith((".", "~"))
        or checkpoint.replace("\\", "/").count("/") > 1
    )


def cache_key(kind, checkpoint, device, dtype, cache_dir):
    """The key of a loaded model: local directories by absolute path, repositories by id."""
    if is_local_path(checkpoint):
        checkpoint = os.path.abspath(os.path.expanduser(checkpoint))
    if cache_dir is not None:
        cache_dir = os.path.abspath(os.path.expanduser(os.fspath(cache_dir)))
    return (kind, checkpoint, str(device), str(dtype), cache_dir)


def load_cached(key, loader):
    """Return the object cached under ``key``, calling ``loader()`` once to create it.

    Loading holds a lock, so that threads asking for the same model load it only once.
    """
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE[key] = loader()
        return _CACHE[key]


def clear_model_cache():
    """Forget every loaded pretrained model (frees their memory once nothing else holds them).

    Returns
    -------
    n_models : int
        How many cached models were dropped.

    Examples
    --------
    >>> from skdynaguide.guidance import clear_model_cache
    >>> n_dropped = clear_model_cache()
    >>> clear_model_cache()
    0
    """
    with _CACHE_LOCK:
        n_models = len(_CACHE)
        _CACHE.clear()
    return n_models


def cached_keys():
    """The keys of the models loaded so far (for inspection and tests)."""
    with _CACHE_LOCK:
        return list(_CACHE)


def accelerate_available():
    """Whether ``accelerate`` is installed (diffusers then loads without a second CPU copy)."""
    return importlib.util.find_spec("accelerate") is not None


def _instructions(checkpoint, subfolders, what):
    """How to obtain ``checkpoint`` on a connected machine and use it offline."""
    include = "".join(f' --include "{sub}/*"' for sub in subfolders)
    pattern = (
        f", allow_patterns={[f'{sub}/*' for sub in subfolders] + ['*.json']!r}"
        if subfolders
        else ""
    )
    layout = (
        " The directory must hold the sub-folders " + ", ".join(f"{s}/" for s in subfolders) + "."
        if subfolders
        else ""
    )
    return (
        f"The {what} weights are not available on this machine and cannot be downloaded here. "
        "On a machine with internet access, download them with\n"
        f"    hf download {checkpoint}{include} --local-dir <DIR>\n"
        "(`huggingface-cli download` with older huggingface_hub), or in Python\n"
        "    from huggingface_hub import snapshot_download\n"
        f"    snapshot_download({checkpoint!r}, local_dir='<DIR>'{pattern})\n"
        "then copy <DIR> to this machine and pass checkpoint='<DIR>' "
        f"(with local_files_only=True).{layout} Alternatively copy a Hugging Face cache that "
        "holds the repository and point cache_dir= (or the HF_HOME environment variable) at "
        "it, keeping the repository id as checkpoint. On a machine without network, "
        "local_files_only=True (or HF_HUB_OFFLINE=1) fails at once instead of retrying."
    )


def from_pretrained(cls, checkpoint, *, what, subfolder=None, subfolders=(),
                    local_files_only=False, cache_dir=None, **kwargs):
    """``cls.from_pretrained`` with a clear :class:`WeightsNotFoundError` when files are missing.

    Parameters
    ----------
    cls : class
        A transformers or diffusers class with ``from_pretrained``.
    checkpoint : str
        Hub repository id or local directory.
    what : str
        Human name of the model for the message (``"SegFormer"``, ``"Stable Diffusion"``).
    subfolder : str or None
        Sub-folder of the checkpoint to load (diffusers layout).
    subfolders : sequence of str
        All the sub-folders the provider needs, listed in the message.
    local_files_only, cache_dir
        Passed to ``from_pretrained``.
    **kwargs
        Other keyword arguments of ``from_pretrained``.
    """
    if subfolder is not None:
        kwargs["subfolder"] = subfolder
    where = os.path.abspath(os.path.expanduser(checkpoint)) if is_local_path(checkpoint) else None
    if where is not None and not os.path.isdir(where):
        raise WeightsNotFoundError(
            f"checkpoint={checkpoint!r} looks like a local directory but {where} does not "
            f"exist. " + _instructions("<repo-id>", subfolders, what)
        )
    if where is None and not local_files_only:
        # Cache first: without a network the Hub client retries each file for ~25 s, which
        # a checkpoint downloaded earlier should never pay.
        try:
            return cls.from_pretrained(checkpoint, local_files_only=True, cache_dir=cache_dir, **kwargs)
        except OSError:
            pass
    try:
        return cls.from_pretrained(
            where or checkpoint, local_files_only=local_files_only, cache_dir=cache_dir, **kwargs
        )
    except OSError as error:
        place = f" in {where}" if where is not None else ""
        part = f"/{subfolder}" if subfolder else ""
        raise WeightsNotFoundError(
            f"could not load {cls.__name__} from {checkpoint!r}{part}{place} "
            f"(local_files_only={local_files_only}, cache_dir={cache_dir!r}): {error}\n"
            + _instructions(checkpoint if where is None else "<repo-id>", subfolders, what)
        ) from error
