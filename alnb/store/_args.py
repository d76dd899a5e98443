"""Argument checks shared by the label store's modules (integers, indices, round and annotator)."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["as_index_list", "as_int_list", "check_meta", "check_round", "is_int"]


def is_int(value: object) -> bool:
    """Whether ``value`` is a Python or NumPy integer (bools excluded)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def as_int_list(value: Any, name: str, scalar: bool = False) -> list[int]:
    """Integers from an int, a sequence or a 1-D array; bools and floats are refused (they hide bugs)."""
    if is_int(value):
        return [int(value)]
    if scalar:
        raise ValueError(f"{name} must be one integer, got {value!r}.")
    arr = np.asarray(value)
    if arr.ndim != 1 or arr.dtype == np.bool_ or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
        raise ValueError(f"{name} must be an integer or a 1-D sequence of integers, got {value!r}.")
    return [int(v) for v in arr]


def as_index_list(value: Any, name: str, scalar: bool = False) -> list[int]:
    """Like :func:`as_int_list`, refusing negative (not dataset-wide) indices."""
    out = as_int_list(value, name, scalar=scalar)
    negative = [i for i in out if i < 0]
    if negative:
        raise ValueError(f"{name} contains {negative}, expected non-negative dataset indices.")
    return out


def check_round(round: Any) -> int:
    """A non-negative round number."""
    if not is_int(round) or round < 0:
        raise ValueError(f"round must be a non-negative integer, got {round!r}.")
    return int(round)


def check_meta(round: Any, annotator: Any) -> tuple[int, str]:
    """A checked ``(round, annotator)`` pair."""
    rnd = check_round(round)
    if not isinstance(annotator, str) or not annotator.strip():
        raise ValueError(f"annotator must be a non-empty string, got {annotator!r}.")
    return rnd, annotator
