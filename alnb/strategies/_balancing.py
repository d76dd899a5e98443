"""Candidate pre-selection and PCB class balancing, shared by the two wrappers (private)."""

from __future__ import annotations

import math

import numpy as np

from alnb.predictions import Predictions
from alnb.strategies.base import IntArray, QueryContext, Selection, Strategy

__all__ = ["balanced_pick", "candidate_count", "check_gamma", "take_candidates"]


def check_gamma(gamma: object, owner: str) -> float:
    if isinstance(gamma, bool) or not isinstance(gamma, (int, float)) or not 0 < gamma <= 1:
        raise ValueError(f"{owner}.gamma must be a number in (0, 1], got {gamma!r}.")
    return float(gamma)


def candidate_count(gamma: float, k: int, reference_size: int, unlabeled: int) -> int:
    """``floor(gamma · reference_size)``, at least ``k`` and at most the unlabeled pool."""
    return int(min(unlabeled, max(k, math.floor(gamma * reference_size + 1e-9))))


def take_candidates(base: Strategy, predictions: Predictions, n: int, context: QueryContext) -> Selection:
    """The base strategy's own choice of ``n`` items: the top ``n`` scores for score-based strategies."""
    return base.select(predictions, n, context)


def balanced_pick(
    candidates: IntArray, predicted: IntArray, counts: IntArray, k: int, rng: np.random.Generator
) -> IntArray:
    """PCB class balancing: positions into ``candidates`` of ``k`` picks, in pick order.

    ``k`` times: target the class with the fewest labels (ties at random), take a random candidate predicted
    as that class (any random candidate if none) and count one more label for the targeted class.
    """
    counts = np.asarray(counts, dtype=np.int64).copy()
    # Drawing without replacement = walking one seeded shuffle; per-class queues keep each step O(1).
    order = rng.permutation(len(candidates))
    queues: dict[int, list[int]] = {}
    for pos in order[::-1]:  # reversed so that list.pop() yields the shuffled order
        queues.setdefault(int(predicted[pos]), []).append(int(pos))
    taken = np.zeros(len(candidates), dtype=bool)
    cursor = 0
    picks = np.empty(k, dtype=np.int64)
    for t in range(k):
        fewest = np.flatnonzero(counts == counts.min())
        target = int(fewest[rng.integers(len(fewest))]) if len(fewest) > 1 else int(fewest[0])
        queue = queues.get(target, [])
        while queue and taken[queue[-1]]:
            queue.pop()
        if queue:
            pick = queue.pop()
        else:
            while taken[order[cursor]]:
                cursor += 1
            pick = int(order[cursor])
        taken[pick] = True
        picks[t] = pick
        counts[target] += 1
    return picks
