"""The pluggable families and the string shortcuts that reach them (``guidance="slic"``, ...).

Every family of interchangeable parts (guidance providers, continuity losses, weightings,
matchings, networks, region embedders) has a base class that derives from :class:`Pluggable`
and names the family in its class statement; a new member registers itself by naming itself
in its own class statement, and nothing else is edited::

    class ContinuityLoss(Pluggable, BaseEstimator, family="continuity loss"): ...
    class MyLoss(ContinuityLoss, name="mine"): ...

:meth:`Registry.resolve` turns an estimator parameter (a name, an instance, and where the
family allows it None, a number or a callable) into a validated object, with one error
message listing what the family accepts.
"""
from __future__ import annotations

import inspect
import numbers

__all__ = ["Pluggable", "Registry"]


class Registry:
    """The classes of one family by name, and the resolution of a parameter to one of them.

    Parameters
    ----------
    kind : str
        The family's name in messages (``"guidance"``, ``"continuity loss"``).
    base : class
        The family's base class; its instances are accepted as they are (validated).
    """

    def __init__(self, kind, base):
        self.kind = kind
        self.base = base
        self._classes = {}

    def add(self, name, cls):
        """Register ``cls`` under ``name`` (names are compared in lower case)."""
        key = name.lower()
        if key in self._classes and self._classes[key] is not cls:
            raise ValueError(f"{self.kind} name {name!r} is already taken by {self._classes[key]}")
        self._classes[key] = cls

    def names(self):
        """The registered names, sorted."""
        return sorted(self._classes)

    def resolve(self, value, *, params=None, none=False, number=None, callables=None):
        """Turn an estimator parameter into a validated member of the family.

        Parameters
        ----------
        value : str, instance of the base class, or as allowed below
            A registered name (any case) is created with its default parameters, then given
            those of ``params`` it has; an instance of the base class is used as given. Both
            are returned through their ``validate()``.
        params : dict, optional
            Estimator-level parameters passed on to a member created by name when it has a
            parameter of that name (the ``alpha`` of ``"fsf"``, the ``n_blocks`` of
            ``"cnn"``); an instance keeps its own.
        none : bool, default=False
            Whether ``None`` (or the name ``"none"``) is accepted, meaning "no member".
        number : class, optional
            Accept a real number ``x`` (not a bool) as ``number(x)``.
        callables : str, optional
            Accept any other callable, returned as it is; the string describes its signature
            in error messages.

        Returns
        -------
        member : instance of the base class, callable or None
        """
        if none and (value is None or (isinstance(value, str) and value.lower() == "none")):
            return None
        if isinstance(value, str):
            if value.lower() not in self._classes:
                raise ValueError(f"unknown {self.kind} {value!r}; {self.kind} must be "
                                 f"{self._accepted(none, number, callables)}")
            member = self._classes[value.lower()]()
            own = member.get_params(deep=False)
            member.set_params(**{k: v for k, v in (params or {}).items() if k in own})
            return member.validate()
        if isinstance(value, self.base):
            return value.validate()
        if number is not None and isinstance(value, numbers.Real) and not isinstance(value, bool):
            return number(value).validate()
        if callables is not None and callable(value):
            return value
        raise TypeError(f"{self.kind} must be {self._accepted(none, number, callables)}, "
                        f"got {value!r}")

    def _accepted(self, none, number, callables):
        names = self.names() + (["none"] if none else [])
        options = (["None"] if none else []) + [f"one of {names}"]
        if number is not None:
            param = next(iter(inspect.signature(number).parameters))
            options.append(f"a number (the {param} of a {number.__name__})")
        options.append(f"a {self.base.__name__} instance")
        if callables is not None:
            options.append(f"a callable {callables}")
        return ", ".join(options[:-1]) + " or " + options[-1]


class Pluggable:
    """Mixin of a family's base class: named subclasses become reachable by string.

    The base class names its family (``family="guidance"``), which gives it a
    :class:`Registry` as ``registry``; each subclass that names itself (``name="slic"``)
    is added to it. Put the mixin first: ``class Base(Pluggable, BaseEstimator, family=...)``.
    """

    registry: Registry

    def __init_subclass__(cls, family=None, name=None, **kwargs):
        super().__init_subclass__(**kwargs)
        if family is not None:
            cls.registry = Registry(family, cls)
        if name is not None:
            cls.registry.add(name, cls)

    def validate(self):
        """Check the parameters (types and ranges only, nothing loaded); returns self."""
        return self
