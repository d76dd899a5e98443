"""ClassBalanced: C-PEAL's / PCB's class-balanced selection among a base strategy's top candidates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from alnb.predictions import Predictions
from alnb.strategies._balancing import balanced_pick, candidate_count, check_gamma, take_candidates
from alnb.strategies.base import FloatArray, IntArray, QueryContext, Selection, Strategy
from alnb.strategies.registry import register_strategy

__all__ = ["ClassBalanced"]


@register_strategy
@dataclass(frozen=True)
class ClassBalanced(Strategy):
    """PCB (Bang et al., CVPR 2024) as used by C-PEAL.

    1. Candidates: the base strategy's choice of ``floor(gamma · P)`` items (at least ``k``), where ``P`` is
       the *initial* pool size, ``context.pool_size`` (``len(unlabeled) + len(labeled)`` when that is
       ``None``). For a score-based base that is its top scores.
    2. Repeat ``k`` times: take the class with the fewest **true** labels so far (``context.labels``; ties
       broken at random), pick a random candidate the model *predicts* as that class (any random candidate if
       there is none) and count one more label for that class.

    ``Selection.scores`` are the base strategy's scores of the picks. Random choices are seeded by the
    context.

    Parameters
    ----------
    base : Strategy
        Strategy that proposes the candidates (C-PEAL: entropy).
    gamma : float, default 0.1
        Candidate fraction of the initial pool, in ``(0, 1]``.

    Examples
    --------
    >>> from alnb.strategies import build_strategy
    >>> build_strategy("entropy+pcb") == ClassBalanced(build_strategy("entropy"), gamma=0.1)
    True
    """

    name: ClassVar[str] = "class_balanced"
    base: Strategy
    gamma: float = 0.1

    def required_fields(self) -> tuple[str, ...]:
        return self.base.required_fields() if isinstance(self.base, Strategy) else ()

    def score(self, predictions: Predictions, context: QueryContext) -> FloatArray:
        """The base strategy's score."""
        return self.base.score(predictions, context)

    def _select(self, predictions: Predictions, rows: IntArray, k: int, context: QueryContext) -> Selection:
        if not isinstance(self.base, Strategy):
            raise ValueError(
                f"ClassBalanced.base must be a Strategy, got {self.base!r}; build one from a name with "
                "alnb.strategies.build_strategy."
            )
        gamma = check_gamma(self.gamma, "ClassBalanced")
        n = candidate_count(gamma, k, context.initial_pool_size, len(rows))
        candidates = take_candidates(self.base, predictions, n, context)
        predicted = predictions.predicted[predictions.positions(candidates.indices)]
        picks = balanced_pick(
            candidates.indices, predicted, context.class_counts(), k, context.rng(self.name)
        )
        return Selection(candidates.indices[picks], candidates.scores[picks])
