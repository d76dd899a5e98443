"""One registry shape for every plug-in kind (strategies, adapters, losses).

A :class:`Registry` maps a name to an :class:`Entry`: the implementation, an optional config class, a one-line
description and kind-specific metadata (a loss's role). One rule for duplicates: registering the same entry again is a
no-op, a different one under a taken name raises unless ``overwrite=True``. One message for an unknown name, listing the
known ones (:class:`~alnb.errors.UnknownNameError`). Third-party plug-ins come through Python entry points (groups
``alnb.strategies``, ``alnb.adapters``, ``alnb.losses``), loaded on the first look-up, not at import::

    # pyproject.toml of a plug-in package
    [project.entry-points."alnb.strategies"]
    oldest = "my_package.strategies:Oldest"

Loading the entry point's object is enough when its module registers it (a decorated class); otherwise the kind's
``adopt`` hook registers the loaded object under the entry point's name.

This module imports only the standard library.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Generic, TypeVar

from alnb._docs import summary_line
from alnb.errors import UnknownNameError

__all__ = ["Entry", "Registry"]

T = TypeVar("T")

_NAME = re.compile(r"[A-Za-z_][\w.-]*")


@dataclass(frozen=True)
class Entry(Generic[T]):
    """One registered plug-in.

    Attributes
    ----------
    name : str
        Registry name.
    obj : object
        The implementation (a class or a function).
    config : type or None
        Its configuration class, where the kind has one (adapters).
    description : str
        One line for listings (default: the first docstring line of ``obj``).
    meta : mapping
        Kind-specific facts (a loss's ``role``).
    """

    name: str
    obj: T
    config: type | None = None
    description: str = ""
    meta: Mapping[str, Any] = field(default_factory=dict)

    def same_as(self, other: Entry[Any]) -> bool:
        """Whether ``other`` registers the very same implementation, config and metadata."""
        return self.obj is other.obj and self.config is other.config and dict(self.meta) == dict(other.meta)


class Registry(Generic[T]):
    """Name → :class:`Entry` for one plug-in kind.

    Parameters
    ----------
    kind : str
        Singular noun used in messages (``"strategy"``).
    group : str or None
        Entry-point group of third-party plug-ins (``"alnb.strategies"``); ``None`` for none.
    adopt : callable, optional
        ``adopt(name, obj)`` registers an entry point's loaded object that did not register itself.

    Examples
    --------
    >>> reg = Registry("measure", group=None)
    >>> reg.register("length", len)
    <built-in function len>
    >>> reg.register("length", len)      # the same again: a no-op
    <built-in function len>
    >>> reg.get("length") is len, reg.names()
    (True, ['length'])
    >>> reg.register("length", max)
    Traceback (most recent call last):
    ...
    ValueError: a measure named 'length' is already registered (builtins.len); pass overwrite=True to replace it.
    >>> reg.get("lenght")
    Traceback (most recent call last):
    ...
    alnb.errors.UnknownNameError: unknown measure 'lenght'; expected one of 'length'.
    """

    def __init__(
        self, kind: str, group: str | None, *, adopt: Callable[[str, Any], object] | None = None
    ) -> None:
        self.kind = kind
        self.group = group
        self._adopt = adopt
        self._entries: dict[str, Entry[T]] = {}
        self._plugins_loaded = group is None

    # ------------------------------------------------------------------ writing

    def register(
        self,
        name: str,
        obj: T,
        *,
        config: type | None = None,
        description: str | None = None,
        meta: Mapping[str, Any] | None = None,
        overwrite: bool = False,
    ) -> T:
        """Add ``obj`` under ``name`` and return it.

        The same entry again is a no-op; a different one under a taken name raises ``ValueError`` unless
        ``overwrite=True``.
        """
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise ValueError(f"{self.kind} name must be a non-empty identifier-like string, got {name!r}.")
        entry: Entry[T] = Entry(
            name=name,
            obj=obj,
            config=config,
            description=summary_line(obj) if description is None else description,
            meta=dict(meta or {}),
        )
        existing = self._entries.get(name)
        if existing is not None and not overwrite and not existing.same_as(entry):
            raise ValueError(
                f"a {self.kind} named {name!r} is already registered ({_describe(existing.obj)}); pass "
                "overwrite=True to replace it."
            )
        self._entries[name] = entry
        return obj

    def unregister(self, name: str) -> Entry[T]:
        """Remove ``name`` and return its entry (an unknown name raises :class:`UnknownNameError`)."""
        self.entry(name)
        return self._entries.pop(name)

    def copy(self) -> Registry[T]:
        """An independent registry holding the same entries (plug-ins loaded first)."""
        self.load_plugins()
        twin: Registry[T] = Registry(self.kind, self.group, adopt=self._adopt)
        twin._entries = dict(self._entries)
        twin._plugins_loaded = True
        return twin

    @contextlib.contextmanager
    def scoped(self) -> Iterator[Registry[T]]:
        """A context in which registrations are undone on exit (tests, doctests).

        Examples
        --------
        >>> reg = Registry("measure", group=None)
        >>> with reg.scoped():
        ...     _ = reg.register("length", len)
        ...     "length" in reg
        True
        >>> "length" in reg
        False
        """
        self.load_plugins()
        saved = dict(self._entries)
        try:
            yield self
        finally:
            self._entries = saved

    # ------------------------------------------------------------------ reading

    def entry(self, name: str) -> Entry[T]:
        """The entry of ``name``; an unknown name raises :class:`UnknownNameError` listing the known names."""
        self.load_plugins()
        if not isinstance(name, str) or name not in self._entries:
            raise UnknownNameError(self.unknown_message(name))
        return self._entries[name]

    def get(self, name: str) -> T:
        """The implementation registered as ``name``."""
        return self.entry(name).obj

    def unknown_message(self, name: object) -> str:
        """The one message for a name this registry does not hold."""
        known = ", ".join(repr(n) for n in self.names()) or "none (nothing is registered)"
        return f"unknown {self.kind} {name!r}; expected one of {known}."

    def names(self) -> list[str]:
        """Sorted registered names."""
        self.load_plugins()
        return sorted(self._entries)

    def entries(self) -> list[Entry[T]]:
        """The entries, sorted by name."""
        return [self._entries[n] for n in self.names()]

    def __contains__(self, name: object) -> bool:
        self.load_plugins()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, group={self.group!r}, names={sorted(self._entries)})"

    # ------------------------------------------------------------------ plug-ins

    def load_plugins(self) -> None:
        """Load the entry points of ``group`` once (a broken plug-in warns and is skipped)."""
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        assert self.group is not None
        for point in metadata.entry_points(group=self.group):
            try:
                obj = point.load()
                if point.name not in self._entries and self._adopt is not None:
                    self._adopt(point.name, obj)
            except Exception as err:
                warnings.warn(
                    f"alnb: skipping the {self.kind} plug-in {point.name!r} ({point.value}) of entry-point "
                    f"group {self.group!r}: {type(err).__name__}: {err}",
                    RuntimeWarning,
                    stacklevel=2,
                )


def _describe(obj: object) -> str:
    if dataclasses.is_dataclass(obj) or isinstance(obj, type) or callable(obj):
        module = getattr(obj, "__module__", "?")
        return f"{module}.{getattr(obj, '__qualname__', repr(obj))}"
    return repr(obj)
