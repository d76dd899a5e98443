"""TopCandidates: restrict a query to a base strategy's best items, then choose among them."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import ClassVar, Literal

import numpy as np

from alnb.predictions import Predictions
from alnb.strategies._balancing import balanced_pick, candidate_count, check_gamma, take_candidates
from alnb.strategies.base import FloatArray, IntArray, QueryContext, Selection, Strategy
from alnb.strategies.registry import register_strategy

__all__ = ["TopCandidates"]


@register_strategy
@dataclass(frozen=True)
class TopCandidates(Strategy):
    """Keep the base strategy's top ``gamma`` fraction (at least ``k``), then select ``k`` among them.

    Parameters
    ----------
    base : Strategy
        Strategy that ranks (or, for diversity strategies, chooses) the candidates.
    gamma : float, default 0.1
        Candidate fraction, in ``(0, 1]``.
    of : {"initial_pool", "unlabeled"}, default "initial_pool"
        What ``gamma`` is a fraction of: the initial pool size (``context.initial_pool_size``, as C-PEAL does)
        or the current unlabeled pool.
    then : "class_balanced", "random" or Strategy, default "class_balanced"
        How to choose among the candidates: PCB class balancing (see :class:`ClassBalanced`), uniformly at
        random, or any strategy run on the candidates as its unlabeled pool (e.g. ``Coreset()`` for diverse
        uncertain items).

    Examples
    --------
    >>> from alnb.strategies import build_strategy
    >>> build_strategy("margin+topk(of='unlabeled', then='random')")
    TopCandidates(base=Margin(), gamma=0.1, of='unlabeled', then='random')
    """

    name: ClassVar[str] = "top_candidates"
    base: Strategy
    gamma: float = 0.1
    of: Literal["initial_pool", "unlabeled"] = "initial_pool"
    then: Literal["class_balanced", "random"] | Strategy = "class_balanced"

    def required_fields(self) -> tuple[str, ...]:
        own = self.base.required_fields() if isinstance(self.base, Strategy) else ()
        extra = self.then.required_fields() if isinstance(self.then, Strategy) else ()
        return tuple(dict.fromkeys(own + extra))

    def score(self, predictions: Predictions, context: QueryContext) -> FloatArray:
        """The base strategy's score."""
        return self.base.score(predictions, context)

    def _select(self, predictions: Predictions, rows: IntArray, k: int, context: QueryContext) -> Selection:
        if not isinstance(self.base, Strategy):
            raise ValueError(
                f"TopCandidates.base must be a Strategy, got {self.base!r}; build one from a name with "
                "alnb.strategies.build_strategy."
            )
        gamma = check_gamma(self.gamma, "TopCandidates")
        if self.of not in ("initial_pool", "unlabeled"):
            raise ValueError(f"TopCandidates.of must be 'initial_pool' or 'unlabeled', got {self.of!r}.")
        if not (isinstance(self.then, Strategy) or self.then in ("class_balanced", "random")):
            raise ValueError(
                f"TopCandidates.then must be 'class_balanced', 'random' or a Strategy, got {self.then!r}."
            )
        reference = context.initial_pool_size if self.of == "initial_pool" else len(rows)
        candidates = take_candidates(
            self.base, predictions, candidate_count(gamma, k, reference, len(rows)), context
        )
        if isinstance(self.then, Strategy):
            inner = self.then.select(predictions, k, replace(context, unlabeled=candidates.indices))
            picks = np.searchsorted(np.sort(candidates.indices), inner.indices)
            order = np.argsort(candidates.indices)[picks]
        elif self.then == "random":
            order = context.rng(self.name).permutation(len(candidates))[:k]
        else:
            predicted = predictions.predicted[predictions.positions(candidates.indices)]
            order = balanced_pick(
                candidates.indices, predicted, context.class_counts(), k, context.rng(self.name)
            )
        return Selection(candidates.indices[order], candidates.scores[order])
