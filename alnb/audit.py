"""How good is the model without a test set: an audit sample drawn uniformly at random from the unlabeled pool.

Most people labeling their own images have no labeled test set. A strategy picks the items the model is
least sure of, so accuracy on the queried items says little about accuracy on the pool. An *audit sample*
does: a small share of every batch is drawn **uniformly at random** from the unlabeled pool (seeded), marked
as audit, and labeled like the rest. Each audit item keeps the prediction the model made when it was drawn,
before the person saw it and before any model trained on it; comparing those predictions with the person's
labels gives unbiased estimates of accuracy and ECE on the pool.

What is estimated: the accuracy (and ECE) of the models that proposed the audited batches, on the pool they
were drawn from. Pooled over rounds, the estimate lags the current model (earlier, weaker models count too),
so it is conservative while the model still improves; pass ``rounds`` to use only recent rounds.

The intervals:

- Accuracy: the Wilson score interval (good coverage for small samples and accuracies near 0 or 1, unlike the
  normal approximation).
- ECE: a percentile bootstrap over the audit items (seeded). With a few dozen items the plug-in ECE is biased
  upward (empty and thin bins); the interval shows how little a small sample says.

Skipped audit items (the person could not tell) are left out and counted; skipping is not random, so many
skips bias the estimate.

This module is core alnb: it never imports ipywidgets.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from alnb._validation import check_fraction, check_non_negative_int, check_positive_int
from alnb.metrics.binning import bin_scores

__all__ = [
    "AuditEstimate",
    "AuditItem",
    "AuditLog",
    "Interval",
    "audit_size",
    "bootstrap_ece",
    "draw_audit",
    "estimate",
    "wilson_interval",
]

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class AuditItem:
    """One audit item: a pool index drawn at random in ``round``, with the prediction made when it was drawn.

    Attributes
    ----------
    index : int
        Dataset-wide index.
    round : int
        Round of the batch it was shown in.
    predicted : int
        The model's predicted class when it was drawn.
    confidence : float
        The probability of that class.
    """

    index: int
    round: int
    predicted: int
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Interval:
    """A point estimate with a two-sided confidence interval ``[low, high]`` at ``level`` by ``method``."""

    estimate: float
    low: float
    high: float
    level: float
    method: str

    def __str__(self) -> str:
        return f"{self.estimate:.3f} [{self.low:.3f}, {self.high:.3f}]"


@dataclass(frozen=True)
class AuditEstimate:
    """Accuracy and ECE estimated from the labeled audit items.

    Attributes
    ----------
    n : int
        Audit items with a label (the sample size).
    correct : int
        How many of them the model predicted right.
    accuracy : Interval or None
        Wilson score interval; ``None`` when ``n == 0``.
    ece : Interval or None
        Percentile-bootstrap interval of the ECE; ``None`` when ``n == 0``.
    skipped : int
        Audit items the person skipped (left out).
    pending : int
        Audit items not labeled yet.
    rounds : tuple of int
        Rounds the labeled items come from.
    """

    n: int
    correct: int
    accuracy: Interval | None
    ece: Interval | None
    skipped: int
    pending: int
    rounds: tuple[int, ...]

    def describe(self) -> str:
        """One line for a person, e.g. ``accuracy 0.82 [0.70, 0.90] (Wilson 95%) · ECE ... on 40 audit images``."""
        if self.accuracy is None or self.ece is None:
            return "no audit image labeled yet: the accuracy estimate appears once some are"
        level = f"{self.accuracy.level:.0%}"
        text = (
            f"accuracy {self.accuracy.estimate:.2f} [{self.accuracy.low:.2f}, {self.accuracy.high:.2f}] "
            f"(Wilson {level}) · ECE {self.ece.estimate:.3f} [{self.ece.low:.3f}, {self.ece.high:.3f}] "
            f"(bootstrap {level}) on {self.n} audit image{'s' if self.n != 1 else ''} drawn at random"
        )
        if self.skipped:
            text += f"; {self.skipped} skipped audit image{'s' if self.skipped != 1 else ''} left out"
        return text


def _z(level: float) -> float:
    from statistics import NormalDist

    return NormalDist().inv_cdf(0.5 + level / 2)


def _check_level(level: Any) -> float:
    value = check_fraction(level, "level", inclusive=False)
    return value


def wilson_interval(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    r"""Wilson score interval of a binomial proportion ``successes / n``.

    With :math:`\hat p = k/n` and :math:`z` the normal quantile of ``0.5 + level / 2``:
    :math:`\frac{\hat p + z^2/2n \pm z\sqrt{\hat p(1-\hat p)/n + z^2/4n^2}}{1 + z^2/n}`.

    Raises
    ------
    ValueError
        For ``n < 1``, ``successes`` outside ``[0, n]`` or ``level`` outside (0, 1).

    Examples
    --------
    >>> low, high = wilson_interval(8, 10)
    >>> round(low, 4), round(high, 4)
    (0.4902, 0.9433)
    """
    n = check_positive_int(n, "n")
    k = check_non_negative_int(successes, "successes")
    if k > n:
        raise ValueError(f"successes must lie in [0, n={n}], got {k}.")
    z = _z(_check_level(level))
    p = k / n
    denominator = 1 + z * z / n
    center = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, center - half), min(1.0, center + half)


def bootstrap_ece(
    confidence: Any,
    correct: Any,
    *,
    n_bins: int = 10,
    level: float = 0.95,
    n_boot: int = 1000,
    seed: int = 0,
) -> Interval:
    """ECE (l1, equal-width bins, as :func:`alnb.metrics.expected_calibration_error`) with a percentile-bootstrap
    interval: resample the items with replacement ``n_boot`` times (seeded) and take the quantiles.

    Parameters
    ----------
    confidence : array-like of float, shape (N,)
        Top-label confidence of each item.
    correct : array-like of bool, shape (N,)
        Whether the predicted class was right.
    n_bins : int
        Bins of the ECE.
    level : float
        Coverage of the interval.
    n_boot : int
        Bootstrap resamples.
    seed : int
        Seed of the resampling.
    """
    conf = np.asarray(confidence, dtype=np.float64)
    hits = np.asarray(correct, dtype=bool)
    if conf.ndim != 1 or hits.shape != conf.shape or conf.size == 0:
        raise ValueError(
            f"confidence and correct must be non-empty 1-D arrays of the same length, got shapes "
            f"{conf.shape} and {hits.shape}."
        )
    if not np.all((conf >= 0) & (conf <= 1)):
        raise ValueError(f"confidence must lie in [0, 1], got {conf[(conf < 0) | (conf > 1)][:5].tolist()}.")
    n_bins = check_positive_int(n_bins, "n_bins")
    n_boot = check_positive_int(n_boot, "n_boot")
    seed = check_non_negative_int(seed, "seed")
    level = _check_level(level)
    bins = bin_scores(conf, hits, n_bins=n_bins)
    point = bins.calibration_error("l1")
    # The resamples reuse the core's bin of every item: ECE = sum_b |sum conf - sum hits| / N per resample.
    which = np.searchsorted(bins.edges.numpy()[1:-1], conf, side="right")
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(conf), size=(n_boot, len(conf)))
    flat = (np.arange(n_boot)[:, None] * n_bins + which[draws]).ravel()
    gap = np.bincount(
        flat, weights=(conf - hits.astype(np.float64))[draws].ravel(), minlength=n_boot * n_bins
    )
    values = np.abs(gap.reshape(n_boot, n_bins)).sum(axis=1) / len(conf)
    low, high = np.quantile(values, [(1 - level) / 2, (1 + level) / 2])
    return Interval(point, float(low), float(high), level, "percentile bootstrap")


def audit_size(batch_size: int, share: float) -> int:
    """Audit items in a batch of ``batch_size``: ``round(share * batch_size)``, at least 1 when ``share > 0``
    and at most ``batch_size - 1`` (a batch always keeps one item the strategy chose).

    >>> audit_size(12, 0.15), audit_size(4, 0.1), audit_size(1, 0.5), audit_size(12, 0.0)
    (2, 1, 0, 0)
    """
    batch_size = check_positive_int(batch_size, "batch_size")
    share = check_fraction(share, "share")
    if share == 0 or batch_size < 2:
        return 0
    return int(min(batch_size - 1, max(1, round(share * batch_size))))


def draw_audit(candidates: Any, k: int, *, seed: int, round: int) -> IntArray:
    """``k`` indices drawn uniformly at random, without replacement, from ``candidates`` (seeded by
    ``(seed, round)``, so a resumed session draws the same ones).

    Raises
    ------
    ValueError
        When ``k`` exceeds the number of candidates.

    Examples
    --------
    >>> draw_audit([3, 5, 8, 13], 2, seed=0, round=1).tolist() == draw_audit([13, 8, 5, 3], 2, seed=0, round=1).tolist()
    True
    """
    k = check_non_negative_int(k, "k")
    seed = check_non_negative_int(seed, "seed")
    round = check_non_negative_int(round, "round")
    pool = np.unique(np.asarray(candidates, dtype=np.int64))  # sorted: the draw never depends on input order
    if k > len(pool):
        raise ValueError(
            f"k={k} audit items were asked from only {len(pool)} candidates; expected k <= {len(pool)}."
        )
    rng = np.random.default_rng([seed, round, 0xA0D17])
    return np.sort(rng.choice(pool, size=k, replace=False)).astype(np.int64)


def estimate(
    items: Iterable[AuditItem],
    labels: Mapping[int, int],
    *,
    skipped: Iterable[int] = (),
    rounds: Sequence[int] | None = None,
    n_bins: int = 10,
    level: float = 0.95,
    n_boot: int = 1000,
    seed: int = 0,
) -> AuditEstimate:
    """Accuracy (Wilson) and ECE (percentile bootstrap) of the audit items' recorded predictions against the
    person's ``labels``.

    Parameters
    ----------
    items : iterable of AuditItem
        The audit items drawn so far.
    labels : mapping of int to int
        The person's current labels (pass ``store.human_labels`` where pseudo-labels exist: a model's own
        guess must never grade the model).
    skipped : iterable of int
        Indices the person skipped (counted, left out).
    rounds : sequence of int, optional
        Use only audit items of these rounds (default: all).
    n_bins, level, n_boot, seed
        As in :func:`bootstrap_ece`; ``level`` also sets the Wilson interval.
    """
    chosen = [it for it in items if rounds is None or it.round in set(rounds)]
    skipped_set = set(int(i) for i in skipped)
    labeled = [it for it in chosen if it.index in labels]
    n_skipped = sum(1 for it in chosen if it.index not in labels and it.index in skipped_set)
    pending = len(chosen) - len(labeled) - n_skipped
    used_rounds = tuple(sorted({it.round for it in labeled}))
    if not labeled:
        return AuditEstimate(0, 0, None, None, n_skipped, pending, used_rounds)
    correct = np.array([int(labels[it.index]) == it.predicted for it in labeled])
    confidence = np.array([it.confidence for it in labeled], dtype=np.float64)
    k, n = int(correct.sum()), len(labeled)
    low, high = wilson_interval(k, n, level)
    accuracy = Interval(k / n, low, high, float(level), "Wilson score")
    ece = bootstrap_ece(confidence, correct, n_bins=n_bins, level=level, n_boot=n_boot, seed=seed)
    return AuditEstimate(n, k, accuracy, ece, n_skipped, pending, used_rounds)


class AuditLog:
    """The audit items of a session, by round, kept in a small JSON file so they survive a restart.

    The file is rewritten whole (write to a temporary file, then rename) whenever a round's audit items are
    set, so it is never half-written. Setting a round again replaces that round's items (a batch asked
    again draws its audit items again).

    Parameters
    ----------
    path : str or PathLike, optional
        The JSON file; read when it exists. ``None`` keeps the items in memory.

    Examples
    --------
    >>> log = AuditLog()
    >>> log.set_round(0, [AuditItem(4, 0, 1, 0.9)])
    >>> [it.index for it in log.items()]
    [4]
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = None if path is None else Path(path)
        self._rounds: dict[int, list[AuditItem]] = {}
        if self.path is not None and self.path.is_file():
            data = json.loads(self.path.read_text(encoding="utf-8"))
            if (
                not isinstance(data, dict)
                or data.get("format") != 1
                or not isinstance(data.get("rounds"), dict)
            ):
                raise ValueError(f"{self.path} is not an alnb audit file (expected format 1 with 'rounds').")
            for key, rows in data["rounds"].items():
                self._rounds[int(key)] = [
                    AuditItem(int(r["index"]), int(r["round"]), int(r["predicted"]), float(r["confidence"]))
                    for r in rows
                ]

    def set_round(self, round: int, items: Sequence[AuditItem]) -> None:
        """Make ``items`` the audit items of ``round`` (replacing earlier ones) and write the file."""
        round = check_non_negative_int(round, "round")
        bad = [it for it in items if not isinstance(it, AuditItem) or it.round != round]
        if bad:
            raise ValueError(f"items must be AuditItems of round {round}, got {bad[:3]!r}.")
        self._rounds[round] = list(items)
        self._write()

    def indices(self, round: int) -> frozenset[int]:
        """Audit indices of ``round``."""
        return frozenset(it.index for it in self._rounds.get(int(round), ()))

    def items(self) -> list[AuditItem]:
        """Every audit item, by round."""
        return [it for r in sorted(self._rounds) for it in self._rounds[r]]

    def _write(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "format": 1,
            "rounds": {str(r): [it.to_dict() for it in rows] for r, rows in sorted(self._rounds.items())},
        }
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
        tmp.replace(self.path)
