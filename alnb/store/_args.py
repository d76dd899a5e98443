"""Argument checks shared by the label store's modules (integers, indices, round and annotator)."""

from __future__ import annotations

from typing import Any

from alnb._validation import as_int_list, is_int

__all__ = ["as_index_list", "as_int_list", "check_meta", "check_round", "is_int"]


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
