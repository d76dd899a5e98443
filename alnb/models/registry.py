"""Registry of adapters by name: a new adapter is one small file that decorates its class with
:func:`register_adapter`."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from alnb._registry import Registry
from alnb.models.adapters.base import FAMILIES, Adapter, AdapterConfig

if TYPE_CHECKING:
    from alnb.models.base import Classifier

__all__ = [
    "adapter_class",
    "available_adapters",
    "check_adapter_supports",
    "check_supports",
    "make_adapter_config",
    "register_adapter",
]

A = TypeVar("A", bound=type[Adapter])


def _adopt(name: str, obj: Any) -> None:
    register_adapter(name, obj.config_class)(obj)


#: Every adapter class by name (``config`` is its config class); third-party ones come from the ``alnb.adapters``
#: entry points.
_REGISTRY: Registry[type[Adapter]] = Registry("adapter", group="alnb.adapters", adopt=_adopt)


def register_adapter(name: str, config: type[AdapterConfig], *, overwrite: bool = False) -> Callable[[A], A]:
    """Class decorator registering an :class:`~alnb.models.adapters.base.Adapter` under ``name``.

    Parameters
    ----------
    name : str
        Registry name, as passed to ``load_classifier(adapter=name)``.
    config : type
        The adapter's :class:`AdapterConfig` dataclass; ``load_classifier``'s extra keyword options fill it.
    overwrite : bool
        Allow replacing an existing entry (otherwise a different class under a taken name raises ``ValueError``;
        the same class and config again is a no-op).

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class NothingConfig(AdapterConfig):
    ...     pass
    >>> with _REGISTRY.scoped():  # keep the doctest side-effect free
    ...     @register_adapter("nothing_example", NothingConfig)
    ...     class Nothing(Adapter):
    ...         families = frozenset({"vision_language"})
    ...     "nothing_example" in available_adapters()
    True
    >>> "nothing_example" in available_adapters()
    False
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string, got {name!r}.")
    if not (isinstance(config, type) and issubclass(config, AdapterConfig)):
        raise ValueError(f"config must be an AdapterConfig subclass, got {config!r}.")

    def decorator(cls: A) -> A:
        if not (isinstance(cls, type) and issubclass(cls, Adapter)):
            raise ValueError(f"register_adapter({name!r}) decorates Adapter subclasses, got {cls!r}.")
        _REGISTRY.register(name, cls, config=config, overwrite=overwrite)
        cls.name = name
        cls.config_class = config
        return cls

    return decorator


def adapter_class(name: str) -> type[Adapter]:
    """The adapter class registered as ``name``; unknown names raise :class:`~alnb.errors.UnknownNameError` (a
    ``ValueError``) listing the known ones."""
    return _REGISTRY.get(name)


def available_adapters(family: str | None = None, model_type: str | None = None) -> list[str]:
    """Sorted names of the registered adapters, optionally only those for a model family and ``model_type``.

    Examples
    --------
    >>> available_adapters("vision")
    ['linear', 'lora', 'vpt']
    """
    if family is not None and family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES} or None, got {family!r}.")
    return [e.name for e in _REGISTRY.entries() if e.obj.supports(family, model_type)]


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


def check_supports(adapter: type[Adapter] | Adapter, family: str, model_type: str, model_name: str) -> None:
    """Raise ``ValueError`` naming the adapter, the model type and the adapters that do fit when ``adapter``
    cannot work on a ``family`` model of ``model_type`` (what :meth:`Adapter.supports` says).

    ``load_classifier`` calls it with what the model's config says, before any weights are read.
    """
    if adapter.supports(family, model_type):
        return
    supported = ", ".join(available_adapters(family, model_type)) or "none"
    needs = (
        " or ".join(sorted(adapter.model_types))
        if adapter.model_types
        else " or ".join(sorted(adapter.families))
    )
    raise ValueError(
        f"adapter {adapter.name!r} does not support model {model_name!r} "
        f"(model_type {model_type!r}, a {family.replace('_', '-')} model): it needs a "
        f"{needs} model. Adapters for this model: {supported}."
    )


def check_adapter_supports(adapter: Adapter, classifier: Classifier) -> None:
    """:func:`check_supports` for an adapter about to be attached to ``classifier``."""
    check_supports(adapter, classifier.family, classifier.model_type, classifier.model_name)
