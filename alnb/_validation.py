"""Shared input checks for alnb.

Every public function of alnb validates its arguments with these helpers, so bad input fails early with a
``ValueError`` that names the argument, the offending value and what was expected.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import numpy as np
import torch

__all__ = [
    "as_int_list",
    "as_tensor",
    "check_choice",
    "check_class_names",
    "check_fraction",
    "check_labels",
    "check_logits",
    "check_non_negative",
    "check_non_negative_int",
    "check_positive_int",
    "check_probs",
    "check_same_length",
    "describe",
    "is_int",
]

#: Largest allowed ``|sum(row) - 1|`` for a row of probabilities.
PROBS_ATOL = 1e-3


def describe(value: Any) -> str:
    """A short text form of ``value`` for error messages (shape and dtype for arrays, repr otherwise)."""
    if isinstance(value, torch.Tensor | np.ndarray):
        return f"{type(value).__name__} of shape {tuple(value.shape)} and dtype {value.dtype}"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def as_tensor(value: Any, name: str, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Convert a tensor, numpy array or nested sequence to a tensor without copying when possible.

    Parameters
    ----------
    value : Tensor, ndarray or sequence
        The input.
    name : str
        Argument name used in error messages.
    dtype : torch.dtype, optional
        Cast to this dtype.

    Returns
    -------
    Tensor
        ``value`` as a tensor on its original device (CPU for numpy input).
    """
    if isinstance(value, torch.Tensor):
        tensor = value
    else:
        try:
            tensor = torch.as_tensor(np.asarray(value))
        except (TypeError, ValueError, RuntimeError) as err:
            raise ValueError(
                f"{name} must be a torch.Tensor or a numpy array, got {describe(value)}: {err}"
            ) from err
    if tensor.dtype == torch.bool and dtype is None:
        return tensor
    return tensor if dtype is None else tensor.to(dtype)


def check_probs(probs: Any, name: str = "probs", atol: float = PROBS_ATOL) -> torch.Tensor:
    """Validate class probabilities and return them as a float64 tensor shaped ``[N, C]``.

    Parameters
    ----------
    probs : Tensor or ndarray, shape (N, C) or (N, C, K)
        Probabilities; a third axis holds K Monte-Carlo or ensemble samples and is averaged first.
    name : str
        Argument name used in error messages.
    atol : float
        Largest allowed deviation of a row sum from 1.

    Returns
    -------
    Tensor, shape (N, C), float64
        The (sample-averaged) probabilities.

    Raises
    ------
    ValueError
        On a wrong number of dimensions, no rows or classes, non-finite values, values outside [0, 1] or rows
        that do not sum to 1.
    """
    tensor = as_tensor(probs, name)
    if tensor.ndim not in (2, 3):
        raise ValueError(
            f"{name} must be shaped [N, C] or [N, C, K] (K samples), got {tensor.ndim} dimensions "
            f"({describe(probs)})."
        )
    if not (tensor.is_floating_point()):
        raise ValueError(f"{name} must hold floating-point probabilities, got {describe(probs)}.")
    if tensor.shape[0] == 0 or tensor.shape[1] == 0 or (tensor.ndim == 3 and tensor.shape[2] == 0):
        raise ValueError(f"{name} must have at least one row, class and sample, got {describe(probs)}.")
    tensor = tensor.to(torch.float64)
    if tensor.ndim == 3:
        tensor = tensor.mean(dim=2)
    finite = torch.isfinite(tensor)
    if not bool(finite.all()):
        row = int((~finite).any(dim=1).nonzero()[0, 0])
        raise ValueError(
            f"{name} must be finite, but row {row} holds NaN or inf: {tensor[row].tolist()[:10]}."
        )
    low, high = float(tensor.min()), float(tensor.max())
    if low < -atol or high > 1 + atol:
        raise ValueError(f"{name} must lie in [0, 1], got values in [{low:.4g}, {high:.4g}].")
    error = (tensor.sum(dim=1) - 1).abs()
    if bool((error > atol).any()):
        row = int(error.argmax())
        raise ValueError(
            f"each row of {name} must sum to 1 (tolerance {atol:g}); row {row} sums to "
            f"{float(tensor[row].sum()):.6g}. Pass probabilities (softmax of logits), not logits."
        )
    return tensor


def check_logits(logits: Any, name: str = "logits") -> torch.Tensor:
    """Validate a floating-point tensor shaped ``[N, C]`` with at least one row and class.

    Values are not checked for finiteness: losses run every step, and such a check would force a device sync.
    """
    if not isinstance(logits, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {describe(logits)}.")
    if logits.ndim != 2:
        raise ValueError(f"{name} must be shaped [N, C], got {logits.ndim} dimensions ({describe(logits)}).")
    if not logits.is_floating_point():
        raise ValueError(f"{name} must be floating point, got {describe(logits)}.")
    if logits.shape[0] == 0 or logits.shape[1] == 0:
        raise ValueError(f"{name} must have at least one row and one class, got {describe(logits)}.")
    return logits


def check_labels(labels: Any, num_rows: int, num_classes: int, name: str = "labels") -> torch.Tensor:
    """Validate integer class labels and return them as an int64 tensor shaped ``[N]``.

    Parameters
    ----------
    labels : Tensor, ndarray or sequence of int, shape (N,)
        Class of each row.
    num_rows : int
        Expected length N (rows of the matching probabilities or logits).
    num_classes : int
        Number of classes C; every label must lie in ``[0, C)``.
    name : str
        Argument name used in error messages.
    """
    tensor = as_tensor(labels, name)
    if tensor.ndim != 1:
        raise ValueError(f"{name} must be shaped [N], got {tensor.ndim} dimensions ({describe(labels)}).")
    if tensor.is_floating_point() or tensor.is_complex() or tensor.dtype == torch.bool:
        raise ValueError(f"{name} must hold integer class indices, got {describe(labels)}.")
    if tensor.shape[0] != num_rows:
        raise ValueError(
            f"{name} has {tensor.shape[0]} entries but there are {num_rows} rows; expected one per row."
        )
    tensor = tensor.to(torch.int64)
    if num_rows:
        low, high = int(tensor.min()), int(tensor.max())
        if low < 0 or high >= num_classes:
            bad = low if low < 0 else high
            raise ValueError(f"{name} must lie in [0, {num_classes}) for {num_classes} classes, got {bad}.")
    return tensor


def check_same_length(**arrays: Any) -> int:
    """Check that all keyword arguments have the same first dimension and return it."""
    lengths = {name: len(value) for name, value in arrays.items()}
    if len(set(lengths.values())) > 1:
        text = ", ".join(f"{name} has {n}" for name, n in lengths.items())
        raise ValueError(f"expected the same number of rows, but {text}.")
    return next(iter(lengths.values()), 0)


def check_positive_int(value: Any, name: str) -> int:
    """Return ``value`` as an int if it is an integer ≥ 1 (bools are rejected)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)


def check_non_negative_int(value: Any, name: str) -> int:
    """Return ``value`` as an int if it is an integer ≥ 0 (bools are rejected)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}.")
    return int(value)


def is_int(value: object) -> bool:
    """Whether ``value`` is a Python or NumPy integer (bools excluded).

    >>> is_int(3), is_int(np.int64(3)), is_int(True), is_int(3.0)
    (True, True, False, False)
    """
    return isinstance(value, int | np.integer) and not isinstance(value, bool | np.bool_)


def as_int_list(value: Any, name: str, scalar: bool = False) -> list[int]:
    """Integers from an int, a sequence or a 1-D array (only one int with ``scalar=True``); bools and floats are
    refused, as they hide bugs.

    >>> as_int_list(3, "index"), as_int_list(np.array([4, 1]), "indices")
    ([3], [4, 1])
    """
    if is_int(value):
        return [int(value)]
    if scalar:
        raise ValueError(f"{name} must be one integer, got {value!r}.")
    arr = np.asarray(value)
    if arr.ndim != 1 or arr.dtype == np.bool_ or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"{name} must be an integer or a 1-D sequence of integers, got {value!r}.")
    return [int(v) for v in arr]


def check_non_negative(value: Any, name: str) -> float:
    """Return ``value`` as a float if it is a finite real number ≥ 0."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValueError(f"{name} must be a non-negative number, got {value!r}.")
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite non-negative number, got {value!r}.")
    return float(value)


def check_fraction(value: Any, name: str, *, inclusive: bool = True) -> float:
    """Return ``value`` as a float if it lies in [0, 1] (or (0, 1) with ``inclusive=False``)."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}.")
    ok = 0 <= value <= 1 if inclusive else 0 < value < 1
    if not ok:
        interval = "[0, 1]" if inclusive else "(0, 1)"
        raise ValueError(f"{name} must lie in {interval}, got {value!r}.")
    return float(value)


def check_choice(value: Any, name: str, choices: Collection[str]) -> str:
    """Return ``value`` if it is one of ``choices``; otherwise raise a ``ValueError`` listing them."""
    if not isinstance(value, str) or value not in choices:
        known = ", ".join(repr(c) for c in sorted(choices))
        raise ValueError(f"{name} must be one of {known}; got {value!r}.")
    return value


def check_class_names(class_names: Sequence[str]) -> tuple[str, ...]:
    """Validate class names: a non-empty sequence of unique, non-empty strings; returns them as a tuple.

    Examples
    --------
    >>> check_class_names(["cat", "dog"])
    ('cat', 'dog')
    """
    if isinstance(class_names, str) or not isinstance(class_names, (Sequence, np.ndarray)):
        raise ValueError(f"class_names must be a sequence of strings, got {class_names!r}.")
    names = tuple(class_names)
    if not names:
        raise ValueError("class_names must name at least one class, got an empty sequence.")
    bad = [n for n in names if not isinstance(n, str) or not n.strip()]
    if bad:
        raise ValueError(f"class_names must be non-empty strings, got {bad!r}.")
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"class_names must be unique, got duplicates {duplicates!r} in {list(names)!r}.")
    return names
