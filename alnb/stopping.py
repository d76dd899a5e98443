"""Stopping criteria for the active-learning loop.

Each criterion reads the learner's history (one dict per finished round) and says why to stop, or ``None`` to go on.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["CalibrationPlateau", "LabelBudget", "MaxRounds", "MetricPatience", "StoppingCriterion"]

Record = Mapping[str, Any]


class StoppingCriterion(ABC):
    """Something that decides, after a round, whether the loop should stop."""

    @abstractmethod
    def should_stop(self, history: Sequence[Record]) -> str | None:
        """A sentence saying why to stop, or ``None``."""


@dataclass(frozen=True)
class MaxRounds(StoppingCriterion):
    """Stop after ``rounds`` finished rounds."""

    rounds: int

    def __post_init__(self) -> None:
        if self.rounds < 1:
            raise ValueError(f"rounds={self.rounds!r} must be a positive int")

    def should_stop(self, history: Sequence[Record]) -> str | None:
        if len(history) >= self.rounds:
            return f"reached {self.rounds} rounds"
        return None


@dataclass(frozen=True)
class LabelBudget(StoppingCriterion):
    """Stop once ``budget`` labels have been given."""

    budget: int

    def __post_init__(self) -> None:
        if self.budget < 1:
            raise ValueError(f"budget={self.budget!r} must be a positive int")

    def should_stop(self, history: Sequence[Record]) -> str | None:
        if history and history[-1]["num_labeled"] >= self.budget:
            return f"label budget of {self.budget} spent"
        return None


@dataclass(frozen=True)
class MetricPatience(StoppingCriterion):
    """Stop when ``metric`` has not improved by more than ``min_delta`` for ``patience`` rounds.

    ``mode="max"`` for metrics where higher is better (accuracy), ``"min"`` for errors (ece, nll).
    """

    metric: str = "accuracy"
    patience: int = 3
    min_delta: float = 0.0
    mode: str = "max"

    def __post_init__(self) -> None:
        if self.mode not in ("max", "min"):
            raise ValueError(f"mode={self.mode!r}; expected 'max' or 'min'")
        if self.patience < 1:
            raise ValueError(f"patience={self.patience!r} must be a positive int")

    def should_stop(self, history: Sequence[Record]) -> str | None:
        values = [r[self.metric] for r in history if self.metric in r and not math.isnan(r[self.metric])]
        if len(values) <= self.patience:
            return None
        sign = 1.0 if self.mode == "max" else -1.0
        best_before = max(sign * v for v in values[: -self.patience])
        recent = max(sign * v for v in values[-self.patience :])
        if recent <= best_before + self.min_delta:
            return f"{self.metric} has not improved by more than {self.min_delta} for {self.patience} rounds"
        return None


def CalibrationPlateau(metric: str = "ece", patience: int = 2, min_delta: float = 0.005) -> MetricPatience:
    """Stop when a calibration error (``"ece"`` or ``"nll"``) stops falling: :class:`MetricPatience` in ``min`` mode."""
    if metric not in ("ece", "nll", "ace", "mce", "brier", "classwise_ece"):
        raise ValueError(f"metric={metric!r}; expected a calibration error such as 'ece' or 'nll'")
    return MetricPatience(metric=metric, patience=patience, min_delta=min_delta, mode="min")
