"""Name → class registries behind the string shortcuts (``guidance="felzenszwalb"``, ...).

A new provider, continuity loss or weighting schedule registers itself by naming itself in
its class statement (``class MyLoss(ContinuityLoss, name="mine")``); nothing else is edited.
"""
from __future__ import annotations

__all__ = ["Registry"]


class Registry:
    """Classes of one kind, by name."""

    def __init__(self, kind):
        self.kind = kind
        self._classes = {}

    def add(self, name, cls):
        if name in self._classes and self._classes[name] is not cls:
            raise ValueError(f"{self.kind} name {name!r} is already taken by {self._classes[name]}")
        self._classes[name] = cls

    def names(self):
        return sorted(self._classes)

    def create(self, name):
        """Instantiate the class registered as ``name`` with its default parameters."""
        key = name.lower()
        if key in self._classes:
            return self._classes[key]()
        raise ValueError(
            f"unknown {self.kind} {name!r}; choose one of {self.names()} or pass an object"
        )
