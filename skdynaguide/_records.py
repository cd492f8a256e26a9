"""The record of the parameters behind an output folder (``segmenter.txt``).

:func:`~skdynaguide.evaluate` with ``output_dir`` and ``skdynaguide segment`` both resume
work left in a folder; the record lets them refuse to mix the outputs of two
configurations in one folder.
"""
from __future__ import annotations

import re
from pathlib import Path

from .io import atomic_save

__all__ = ["parameter_record"]


def _fingerprint(segmenter):
    """The segmenter's parameters as text, stable across processes (no memory addresses)."""
    params = segmenter.get_params(deep=False) if hasattr(segmenter, "get_params") else {}
    text = "\n".join(f"{name}={params[name]!r}" for name in sorted(params))
    return f"{type(segmenter).__name__}\n" + re.sub(r" at 0x[0-9a-fA-F]+", "", text)


def parameter_record(folder, segmenter, replace=False):
    """Check ``segmenter`` against the parameters recorded in ``folder/segmenter.txt``.

    Returns ``None`` when the record matches, or was absent or ``replace`` is true (then it
    is written, atomically); else the differences as text, one ``name: recorded -> now`` per
    parameter, so that a caller can refuse to mix outputs of two configurations.

    Examples
    --------
    >>> import tempfile
    >>> from skdynaguide import DynaGuideSegmenter
    >>> from skdynaguide._records import parameter_record
    >>> folder = tempfile.mkdtemp()
    >>> parameter_record(folder, DynaGuideSegmenter(alpha=15)) is None  # recorded
    True
    >>> parameter_record(folder, DynaGuideSegmenter(alpha=5))
    'alpha: 15 -> 5'
    """
    record = Path(folder) / "segmenter.txt"
    fingerprint = _fingerprint(segmenter)
    if record.exists() and not replace:
        recorded = record.read_text()
        if recorded == fingerprint:
            return None
        old, new = (dict(line.partition("=")[::2] for line in text.splitlines()[1:])
                    for text in (recorded, fingerprint))
        changes = [f"{name}: {old.get(name, '(absent)')} -> {new.get(name, '(absent)')}"
                   for name in sorted(set(old) | set(new)) if old.get(name) != new.get(name)]
        recorded_class = (recorded.splitlines() or [""])[0]
        if recorded_class != type(segmenter).__name__:
            changes.insert(0, f"class: {recorded_class} -> {type(segmenter).__name__}")
        return "; ".join(changes) or "the record is not in the expected format"
    atomic_save(record, lambda tmp: Path(tmp).write_text(fingerprint))
    return None
