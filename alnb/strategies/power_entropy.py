"""PowerEntropy: stochastic entropy sampling, a cheap way to get diverse batches (Kirsch et al., 2023)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from alnb.predictions import Predictions
from alnb.strategies._common import entropy, probs_of
from alnb.strategies.base import FloatArray, IntArray, QueryContext, Selection, Strategy
from alnb.strategies.registry import register_strategy

__all__ = ["PowerEntropy"]


@register_strategy
@dataclass(frozen=True)
class PowerEntropy(Strategy):
    r"""Draw ``k`` items without replacement with probability :math:`\propto H(p_i)^\beta`.

    Uses the Gumbel-top-k trick: the ``k`` largest :math:`\beta \ln H_i + G_i`, :math:`G_i \sim
    \mathrm{Gumbel}(0, 1)` seeded by the context. ``beta = 0`` is random sampling; ``beta → ∞`` approaches
    plain entropy sampling. Items with zero entropy come last, in random order.

    Parameters
    ----------
    beta : float, default 1.0
        Sharpness, ``>= 0``.
    """

    name: ClassVar[str] = "power_entropy"
    beta: float = 1.0

    def score(self, predictions: Predictions, context: QueryContext) -> FloatArray:
        """The entropy of each row (the quantity sampled on)."""
        return entropy(probs_of(predictions))

    def _select(self, predictions: Predictions, rows: IntArray, k: int, context: QueryContext) -> Selection:
        if not (isinstance(self.beta, (int, float)) and math.isfinite(self.beta) and self.beta >= 0):
            raise ValueError(f"PowerEntropy.beta must be a finite number >= 0, got {self.beta!r}.")
        scores = self.score(predictions, context)[rows]
        rng = context.rng(self.name)
        with np.errstate(divide="ignore"):
            keys = self.beta * np.log(scores) if self.beta > 0 else np.zeros_like(scores)
        keys = np.where(scores > 0, keys, -np.inf) if self.beta > 0 else keys
        keys = keys + rng.gumbel(size=len(scores))
        perm = rng.permutation(len(scores))  # orders the -inf keys (zero entropy) at random
        order = perm[np.argsort(-keys[perm], kind="stable")[:k]]
        return Selection(context.unlabeled[order], scores[order])
