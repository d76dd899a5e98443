"""Registry of losses by name: a new loss is one small file that calls :func:`register_loss`."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, overload

import torch

from alnb._docs import summary_line
from alnb._registry import Registry

__all__ = [
    "LossFn",
    "LossSpec",
    "available_losses",
    "describe_losses",
    "get_loss",
    "loss_spec",
    "register_loss",
]

#: A loss maps logits ``[N, C]`` and labels ``[N]`` to a scalar tensor.
LossFn = Callable[..., torch.Tensor]
Role = Literal["base", "calibration"]
ROLES: tuple[str, ...] = ("base", "calibration")


@dataclass(frozen=True)
class LossSpec:
    """A registered loss.

    Parameters
    ----------
    name : str
        Registry name.
    fn : callable
        ``fn(logits, labels, **kwargs) -> Tensor`` (scalar).
    role : {"base", "calibration"}
        ``"base"`` losses (cross-entropy, focal, label smoothing) **replace** cross-entropy in
        :class:`~alnb.losses.CalibratedObjective`; ``"calibration"`` losses (uc, avuc, mmce, none) are
        **added** to the base loss with a scheduled weight.
    """

    name: str
    fn: LossFn
    role: Role


def _adopt(name: str, obj: Any) -> None:
    register_loss(name, obj, role=getattr(obj, "role", "calibration"))


#: Every loss by name (``meta["role"]`` holds its role); third-party ones come from the ``alnb.losses`` entry points.
_REGISTRY: Registry[LossFn] = Registry("loss", group="alnb.losses", adopt=_adopt)


@overload
def register_loss(
    name: str, fn: None = None, *, role: Role = "calibration", overwrite: bool = False
) -> Callable[[LossFn], LossFn]: ...


@overload
def register_loss(
    name: str, fn: LossFn, *, role: Role = "calibration", overwrite: bool = False
) -> LossFn: ...


def register_loss(
    name: str, fn: LossFn | None = None, *, role: Role = "calibration", overwrite: bool = False
) -> LossFn | Callable[[LossFn], LossFn]:
    """Register a loss under ``name``; use as ``@register_loss("name")`` or ``register_loss("name", fn)``.

    Parameters
    ----------
    name : str
        Registry name (non-empty).
    fn : callable, optional
        The loss; omit it to use ``register_loss`` as a decorator.
    role : {"base", "calibration"}
        Whether the loss replaces cross-entropy (``"base"``) or is added to it (``"calibration"``).
    overwrite : bool
        Allow replacing an existing entry (otherwise a different loss under a taken name raises ``ValueError``;
        the same function and role again is a no-op).

    Returns
    -------
    callable
        ``fn`` unchanged (or a decorator that registers and returns it).

    Examples
    --------
    >>> import torch
    >>> with _REGISTRY.scoped():  # keep the doctest side-effect free
    ...     @register_loss("zero_example")
    ...     def zero_loss(logits, labels):
    ...         return logits.sum() * 0
    ...     "zero_example" in available_losses()
    True
    >>> "zero_example" in available_losses()
    False
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string, got {name!r}.")
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, got {role!r}.")

    def decorator(loss: LossFn) -> LossFn:
        if not callable(loss):
            raise ValueError(f"the loss registered as {name!r} must be callable, got {loss!r}.")
        target = loss.func if isinstance(loss, functools.partial) else loss
        extra = (
            ", ".join(f"{k}={v!r}" for k, v in loss.keywords.items())
            if isinstance(loss, functools.partial)
            else ""
        )
        description = summary_line(target) + (f" ({extra})" if extra else "")
        return _REGISTRY.register(
            name, loss, description=description, meta={"role": role}, overwrite=overwrite
        )

    return decorator if fn is None else decorator(fn)


def loss_spec(name: str) -> LossSpec:
    """The :class:`LossSpec` of ``name``; an unknown name raises :class:`~alnb.errors.UnknownNameError` (a
    ``ValueError``) listing the known ones."""
    entry = _REGISTRY.entry(name)
    return LossSpec(name=entry.name, fn=entry.obj, role=entry.meta["role"])


def get_loss(name: str, **kwargs: Any) -> LossFn:
    """The loss registered as ``name``, with ``kwargs`` bound (e.g. ``get_loss("focal", gamma=2.0)``).

    Examples
    --------
    >>> import torch
    >>> loss = get_loss("uc")
    >>> float(loss(torch.tensor([[4.0, 0.0], [0.0, 4.0]]), torch.tensor([0, 1]))) >= 0
    True
    """
    fn = loss_spec(name).fn
    return functools.partial(fn, **kwargs) if kwargs else fn


def available_losses(role: Role | None = None) -> list[str]:
    """Sorted names of the registered losses, optionally only those of one role."""
    if role is not None and role not in ROLES:
        raise ValueError(f"role must be one of {ROLES} or None, got {role!r}.")
    return [e.name for e in _REGISTRY.entries() if role is None or e.meta["role"] == role]


def describe_losses() -> str:
    """What ``alnb losses`` prints: each loss with its role and the first line of its docstring."""
    width = max(len(n) for n in _REGISTRY.names()) + 2
    lines: list[str] = []
    sections: tuple[tuple[Role, str], ...] = (
        ("calibration", "Calibration losses (added to the base loss; STRATEGY@LOSS in methods):"),
        ("base", "Base losses (replace cross-entropy; STRATEGY@LOSS trains with that loss alone):"),
    )
    for role, title in sections:
        lines.append(title)
        for name in available_losses(role):
            lines.append(f"  {name:<{width}}{_REGISTRY.entry(name).description}")
        lines.append("")
    return "\n".join(lines).rstrip()
