"""Statistics of active-learning runs: area under the learning curve, paired differences over seeds, bootstrap intervals.

Everything here reads the history format of :class:`alnb.ActiveLearner` (one dict per round with ``num_labeled`` and the
test metrics), so a report can be recomputed from ``histories.json`` alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["area_under_curve", "bootstrap_interval", "labels_to_reach", "paired_difference"]

History = Sequence[Mapping[str, Any]]


def area_under_curve(history: History, metric: str = "accuracy") -> float:
    """Normalised area under the learning curve: the trapezoid area of ``metric`` over the number of labels, divided by
    the label range, so it reads as a mean accuracy over the budget (one round: that round's value).

    >>> area_under_curve([{"num_labeled": 10, "accuracy": 0.5}, {"num_labeled": 30, "accuracy": 0.7}])
    0.6
    """
    labels = np.asarray([r["num_labeled"] for r in history], dtype=np.float64)
    values = np.asarray([r[metric] for r in history], dtype=np.float64)
    if len(values) == 0:
        raise ValueError("history is empty; expected at least one round")
    if len(values) == 1 or labels[-1] == labels[0]:
        return float(values.mean())
    return round(float(np.trapezoid(values, labels) / (labels[-1] - labels[0])), 12)


def labels_to_reach(history: History, target: float, metric: str = "accuracy") -> float:
    """Labels at the first round whose ``metric`` reaches ``target``; ``inf`` when no round does.

    >>> labels_to_reach([{"num_labeled": 10, "accuracy": 0.5}, {"num_labeled": 20, "accuracy": 0.8}], 0.75)
    20.0
    """
    for record in history:
        if record[metric] >= target:
            return float(record["num_labeled"])
    return float("inf")


def bootstrap_interval(
    values: Sequence[float] | np.ndarray, *, level: float = 0.95, resamples: int = 10_000, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (seeded, so the same values give the same interval).

    >>> low, high = bootstrap_interval([0.01, 0.02, 0.03, 0.02, 0.04])
    >>> bool(0 < low < 0.024 < high)
    True
    """
    data = np.asarray(values, dtype=np.float64)
    if data.ndim != 1 or len(data) == 0:
        raise ValueError(f"values must be a non-empty 1-d sequence, got shape {data.shape}")
    if not 0 < level < 1:
        raise ValueError(f"level={level!r} must lie strictly between 0 and 1")
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, len(data), size=(resamples, len(data)))].mean(axis=1)
    tail = (1 - level) / 2
    return float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))


def paired_difference(
    ours: Mapping[int, float], reference: Mapping[int, float], *, level: float = 0.95, seed: int = 0
) -> dict[str, Any]:
    """Per-seed differences ``ours[s] - reference[s]`` over the seeds both have (same seed = same round-0 draw): their
    mean, a bootstrap interval of the mean, and win / loss counts.

    >>> out = paired_difference({0: 0.8, 1: 0.7, 2: 0.9}, {0: 0.7, 1: 0.72, 2: 0.8})
    >>> out["seeds"], out["wins"], out["losses"], round(out["mean"], 3)
    ([0, 1, 2], 2, 1, 0.06)
    """
    seeds = sorted(set(ours) & set(reference))
    if not seeds:
        raise ValueError(f"no seed in common: ours has {sorted(ours)}, reference has {sorted(reference)}")
    # Rounded so that float noise between equal runs does not read as a difference.
    diffs = np.round(np.asarray([ours[s] - reference[s] for s in seeds], dtype=np.float64), 10)
    low, high = bootstrap_interval(diffs, level=level, seed=seed)
    return {
        "seeds": seeds,
        "differences": diffs.tolist(),
        "mean": float(diffs.mean()),
        "interval": [low, high],
        "level": level,
        "wins": int((diffs > 0).sum()),
        "losses": int((diffs < 0).sum()),
        "excludes_zero": bool(low > 0 or high < 0),
    }
