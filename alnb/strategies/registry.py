"""Strategy registry and the configuration language that builds strategies (and their wrappers) by name.

Spec forms accepted by :func:`build_strategy`:

* a :class:`~alnb.strategies.base.Strategy` instance (returned as is);
* a string ``"base(key=value, ...)+modifier(key=value, ...)+..."``: the first token names a registered
  strategy, each later token wraps the result. Modifiers: ``pcb`` / ``balanced`` / ``class_balanced``
  (:class:`ClassBalanced`) and ``topk`` / ``top`` / ``candidates`` / ``top_candidates``
  (:class:`TopCandidates`). Values are Python literals. Examples: ``"entropy"``, ``"entropy+pcb"``,
  ``"margin+topk(gamma=0.05, of='unlabeled')"``, ``"power_entropy(beta=2)"``;
* a mapping ``{"name": ..., **params}``, the same as ``get_strategy(name, **params)``, for instance
  ``{"name": "entropy", "class_balanced": True, "gamma": 0.1}`` or ``{"name": "class_balanced", "base":
  {"name": "entropy"}, "gamma": 0.1}`` (what :meth:`Strategy.to_spec` writes).
"""

from __future__ import annotations

import ast
import dataclasses
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, overload

from alnb._docs import summary_line
from alnb._registry import Registry
from alnb.errors import UnknownNameError
from alnb.strategies.base import Strategy

__all__ = [
    "available",
    "build_strategy",
    "describe_strategies",
    "get_strategy",
    "register_strategy",
]

S = TypeVar("S", bound=type[Strategy])


def _adopt(name: str, obj: Any) -> None:
    register_strategy(obj)


#: Every strategy (wrappers included) by name; third-party ones come from the ``alnb.strategies`` entry points.
_REGISTRY: Registry[type[Strategy]] = Registry("strategy", group="alnb.strategies", adopt=_adopt)
_MODIFIERS = {
    "pcb": "class_balanced",
    "balanced": "class_balanced",
    "class_balanced": "class_balanced",
    "topk": "top_candidates",
    "top": "top_candidates",
    "candidates": "top_candidates",
    "top_candidates": "top_candidates",
}
_WRAPPER_KEYS = ("gamma", "of", "then")
_TOKEN = re.compile(r"^\s*([A-Za-z_][\w-]*)\s*(?:\((.*)\))?\s*$", re.DOTALL)


@overload
def register_strategy(cls: S, *, overwrite: bool = False) -> S: ...


@overload
def register_strategy(cls: None = None, *, overwrite: bool = False) -> Callable[[S], S]: ...


def register_strategy(cls: S | None = None, *, overwrite: bool = False) -> S | Callable[[S], S]:
    """Class decorator adding a :class:`Strategy` subclass to the registry under its ``name``.

    Use it bare (``@register_strategy``) or as ``@register_strategy(overwrite=True)`` to replace another class
    registered under the same name. Registering the same class again is a no-op.

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> import numpy as np
    >>> with _REGISTRY.scoped():  # keep the doctest side-effect free
    ...     @register_strategy
    ...     @dataclass(frozen=True)
    ...     class Oldest(Strategy):
    ...         '''Oldest items first (the smallest dataset index).'''
    ...         name = "oldest"
    ...         def score(self, predictions, context):
    ...             return -predictions.indices.astype(np.float64)
    ...     build_strategy("oldest+pcb")
    ClassBalanced(base=Oldest(), gamma=0.1)
    >>> "oldest" in available()
    False
    """
    if cls is None:
        return lambda c: register_strategy(c, overwrite=overwrite)
    if not (isinstance(cls, type) and issubclass(cls, Strategy)):
        raise ValueError(f"register_strategy expects a Strategy subclass, got {cls!r}.")
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise ValueError(f"{cls.__name__}.name must be a lower-case identifier, got {name!r}.")
    if name in _MODIFIERS and _MODIFIERS[name] != name:
        raise ValueError(f"strategy name {name!r} is reserved as a modifier alias.")
    config = cls if dataclasses.is_dataclass(cls) else None
    _REGISTRY.register(name, cls, config=config, overwrite=overwrite)
    return cls


def available() -> list[str]:
    """Sorted names of the registered strategies (wrappers included)."""
    return _REGISTRY.names()


def describe_strategies() -> str:
    """What ``alnb strategies`` prints: every strategy and modifier with one line each, and the spec syntax."""
    entries = _REGISTRY.entries()
    plain = [e for e in entries if not _is_wrapper(e.obj)]
    wrappers = {e.name: e.obj for e in entries if _is_wrapper(e.obj)}
    width = max(len(e.name) for e in entries) + 2
    lines = ["Query strategies:"]
    lines += [f"  {e.name:<{width}}{e.description}" for e in plain]
    lines += ["", "Modifiers (append to a strategy with +; parameters in parentheses):"]
    for name, cls in wrappers.items():
        aliases = sorted((a for a, target in _MODIFIERS.items() if target == name), key=len)
        lines.append(f"  {' / '.join('+' + a for a in aliases)}")
        lines.append(f"  {'':<{width}}{summary_line(cls)}")
    lines += [
        "",
        "Syntax: STRATEGY[+MODIFIER(key=value, ...)]...[@LOSS][/COLD_START], for example",
        "  entropy+pcb            entropy with C-PEAL's class balancing",
        "  margin+topk(gamma=0.05)@uc",
        "                         the smallest margins among the top 5 %, trained with the uncertainty-calibration loss",
        "  entropy+pcb@uc/typiclust",
        "                         ... with TypiClust choosing round 0",
        "@LOSS picks the calibration loss the model trains with in `alnb run` / `alnb compare` (default none;",
        "`alnb losses` lists them); in Python pass the strategy part to ActiveLearner(strategy=...) and the loss",
        "to TrainerConfig(calibration=...). `cpeal` is the preset entropy+pcb@uc.",
    ]
    return "\n".join(lines)


def _lookup(name: Any) -> type[Strategy]:
    if not isinstance(name, str):
        raise ValueError(f"strategy name must be a str, got {name!r}.")
    key = name.strip().lower().replace("-", "_")
    key = _MODIFIERS.get(key, key)
    if key not in _REGISTRY:
        raise UnknownNameError(_REGISTRY.unknown_message(name))
    return _REGISTRY.get(key)


def _is_wrapper(cls: type[Strategy]) -> bool:
    return dataclasses.is_dataclass(cls) and any(f.name == "base" for f in dataclasses.fields(cls))


def _construct(cls: type[Strategy], params: dict[str, Any]) -> Strategy:
    # A strategy that is not a dataclass takes no parameters.
    fields: tuple[dataclasses.Field[Any], ...] = dataclasses.fields(cls) if dataclasses.is_dataclass(cls) else ()
    accepted = [f.name for f in fields if f.init]
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise ValueError(
            f"strategy {cls.name!r} got unknown parameter(s) {unknown}; accepted: {accepted or 'none'} "
            "(plus class_balanced / top_candidates and their gamma, of, then for the wrappers)."
        )
    missing = [
        f.name
        for f in fields
        if f.init
        and f.name not in params
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ValueError(f"strategy {cls.name!r} needs parameter(s) {missing}.")
    return cls(**params)


def get_strategy(name: str, **params: Any) -> Strategy:
    """Build the registered strategy ``name`` with constructor ``params``.

    Besides the strategy's own parameters, ``class_balanced=True`` (or ``balanced=True``) wraps it in
    :class:`ClassBalanced` and ``top_candidates=True`` in :class:`TopCandidates`; ``gamma``, ``of`` and
    ``then`` then go to the wrapper. A wrapper's ``base`` may itself be any spec accepted by
    :func:`build_strategy`.

    Examples
    --------
    >>> get_strategy("entropy", balanced=True, gamma=0.1)
    ClassBalanced(base=Entropy(), gamma=0.1)
    """
    cls = _lookup(name)
    if _is_wrapper(cls):
        if "base" not in params:
            raise ValueError(f"wrapper strategy {cls.name!r} needs a 'base' strategy spec.")
        params["base"] = build_strategy(params["base"])
        then = params.get("then")
        if isinstance(then, Mapping) or (isinstance(then, str) and then not in ("class_balanced", "random")):
            params["then"] = build_strategy(then)
        return _construct(cls, params)
    balanced = bool(params.pop("class_balanced", False)) | bool(params.pop("balanced", False))
    top = bool(params.pop("top_candidates", False))
    wrapper_params = {key: params.pop(key) for key in _WRAPPER_KEYS if key in params}
    strategy = _construct(cls, params)
    if balanced and top:
        raise ValueError(
            "class_balanced and top_candidates are exclusive (ClassBalanced already takes top candidates)."
        )
    if balanced or top:
        wrapper = "class_balanced" if balanced else "top_candidates"
        return get_strategy(wrapper, base=strategy, **wrapper_params)
    if wrapper_params:
        raise ValueError(
            f"parameter(s) {sorted(wrapper_params)} only apply to a wrapper; pass class_balanced=True or "
            f"top_candidates=True with them (strategy {cls.name!r})."
        )
    return strategy


def _split_top_level(spec: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, char in enumerate(spec):
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "+" and depth == 0:
            parts.append(spec[start:i])
            start = i + 1
    parts.append(spec[start:])
    return parts


def _parse_token(token: str, spec: str) -> tuple[str, dict[str, Any]]:
    match = _TOKEN.match(token)
    if match is None:
        raise ValueError(
            f"cannot parse strategy spec {spec!r} at {token!r}; expected 'name' or 'name(key=value, ...)'."
        )
    name, args = match.group(1), match.group(2)
    if not args or not args.strip():
        return name, {}
    try:
        call = ast.parse(f"_({args})", mode="eval").body
        assert isinstance(call, ast.Call)
        if call.args:
            raise ValueError
        kwargs = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords if kw.arg is not None}
        if len(kwargs) != len(call.keywords):
            raise ValueError
    except (SyntaxError, ValueError, AssertionError):
        raise ValueError(
            f"cannot parse the arguments {args!r} in strategy spec {spec!r}; expected key=literal pairs."
        ) from None
    return name, kwargs


def build_strategy(spec: str | Mapping[str, Any] | Strategy) -> Strategy:
    """Turn a spec (instance, string such as ``"entropy+pcb"``, or mapping) into a :class:`Strategy`.

    Examples
    --------
    >>> build_strategy("entropy+pcb")
    ClassBalanced(base=Entropy(), gamma=0.1)
    >>> build_strategy({"name": "margin", "top_candidates": True, "gamma": 0.05})
    TopCandidates(base=Margin(), gamma=0.05, of='initial_pool', then='class_balanced')
    """
    if isinstance(spec, Strategy):
        return spec
    if isinstance(spec, Mapping):
        params = dict(spec)
        if "name" not in params:
            raise ValueError(
                f"strategy spec {dict(spec)!r} has no 'name' key; expected {{'name': ..., **params}}."
            )
        name = params.pop("name")
        if isinstance(name, str) and "+" in name:
            if params:
                raise ValueError(
                    f"strategy spec name {name!r} has modifiers, so extra keys {sorted(params)} are "
                    "ambiguous; put parameters inside the string, e.g. 'entropy+pcb(gamma=0.2)'."
                )
            return build_strategy(name)
        return get_strategy(name, **params)
    if isinstance(spec, str):
        tokens = _split_top_level(spec)
        name, kwargs = _parse_token(tokens[0], spec)
        strategy = get_strategy(name, **kwargs)
        for token in tokens[1:]:
            modifier, kwargs = _parse_token(token, spec)
            key = modifier.lower().replace("-", "_")
            if key not in _MODIFIERS:
                raise UnknownNameError(
                    f"unknown modifier {modifier!r} in strategy spec {spec!r}; known modifiers: "
                    f"{', '.join(sorted(_MODIFIERS))}."
                )
            strategy = get_strategy(_MODIFIERS[key], base=strategy, **kwargs)
        return strategy
    raise ValueError(f"strategy spec must be a str, a mapping or a Strategy, got {type(spec).__name__}.")
