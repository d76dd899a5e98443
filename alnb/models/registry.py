"""Registry of adapters by name: a new adapter is one small file that decorates its class with
:func:`register_adapter`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from alnb.models.adapters.base import FAMILIES, Adapter, AdapterConfig

__all__ = ["adapter_class", "available_adapters", "make_adapter_config", "register_adapter"]

_REGISTRY: dict[str, type[Adapter]] = {}

A = TypeVar("A", bound=type[Adapter])


def register_adapter(name: str, config: type[AdapterConfig], *, overwrite: bool = False) -> Callable[[A], A]:
    """Class decorator registering an :class:`~alnb.models.adapters.base.Adapter` under ``name``.

    Parameters
    ----------
    name : str
        Registry name, as passed to ``load_classifier(adapter=name)``.
    config : type
        The adapter's :class:`AdapterConfig` dataclass; ``load_classifier``'s extra keyword options fill it.
    overwrite : bool
        Allow replacing an existing entry (otherwise a duplicate name raises ``ValueError``).

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class NothingConfig(AdapterConfig):
    ...     pass
    >>> @register_adapter("nothing_example", NothingConfig)
    ... class Nothing(Adapter):
    ...     families = frozenset({"vision_language"})
    >>> "nothing_example" in available_adapters()
    True
    >>> _ = _REGISTRY.pop("nothing_example")  # keep the doctest side-effect free
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string, got {name!r}.")
    if not (isinstance(config, type) and issubclass(config, AdapterConfig)):
        raise ValueError(f"config must be an AdapterConfig subclass, got {config!r}.")

    def decorator(cls: A) -> A:
        if not (isinstance(cls, type) and issubclass(cls, Adapter)):
            raise ValueError(f"register_adapter({name!r}) decorates Adapter subclasses, got {cls!r}.")
        if name in _REGISTRY and not overwrite:
            raise ValueError(
                f"an adapter named {name!r} is already registered; pass overwrite=True to replace it."
            )
        cls.name = name
        cls.config_class = config
        _REGISTRY[name] = cls
        return cls

    return decorator


def adapter_class(name: str) -> type[Adapter]:
    """The adapter class registered as ``name``; unknown names raise ``ValueError`` listing the known ones."""
    if not isinstance(name, str) or name not in _REGISTRY:
        known = ", ".join(repr(n) for n in available_adapters())
        raise ValueError(f"adapter must be one of {known}; got {name!r}.")
    return _REGISTRY[name]


def available_adapters(family: str | None = None, model_type: str | None = None) -> list[str]:
    """Sorted names of the registered adapters, optionally only those for a model family and ``model_type``.

    Examples
    --------
    >>> available_adapters("vision")
    ['linear', 'lora', 'vpt']
    """
    if family is not None and family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES} or None, got {family!r}.")
    names = []
    for name, cls in _REGISTRY.items():
        if family is not None and family not in cls.families:
            continue
        if model_type is not None and cls.model_types is not None and model_type not in cls.model_types:
            continue
        names.append(name)
    return sorted(names)


def make_adapter_config(name: str, options: Mapping[str, Any]) -> AdapterConfig:
    """Build adapter ``name``'s config from keyword options; an unknown option raises ``ValueError`` listing
    the config's fields."""
    cls = adapter_class(name)
    allowed = cls.config_class.field_names()
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(
            f"unknown option(s) {unknown} for adapter {name!r}; {cls.config_class.__name__} accepts: "
            f"{', '.join(allowed)}."
        )
    return cls.config_class(**options)
