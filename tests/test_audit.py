"""alnb.audit against hand-computed and scipy values: Wilson interval, bootstrap ECE, the draw, the log file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import binomtest

from alnb.audit import (
    AuditItem,
    AuditLog,
    audit_size,
    bootstrap_ece,
    draw_audit,
    estimate,
    wilson_interval,
)
from alnb.metrics import expected_calibration_error


@pytest.mark.parametrize(("k", "n"), [(0, 5), (3, 10), (8, 10), (20, 20), (41, 57)])
@pytest.mark.parametrize("level", [0.9, 0.95])
def test_wilson_interval_matches_scipy(k: int, n: int, level: float) -> None:
    ci = binomtest(k, n).proportion_ci(confidence_level=level, method="wilson")
    assert wilson_interval(k, n, level) == pytest.approx((ci.low, ci.high), abs=1e-12)


def test_wilson_interval_by_hand_and_bad_input() -> None:
    # k = 8, n = 10, z = 1.959964: centre (0.8 + z²/20) / (1 + z²/10), half z·sqrt(0.016 + z²/400) / (1 + z²/10)
    z = 1.959963984540054
    centre = (0.8 + z * z / 20) / (1 + z * z / 10)
    half = z * np.sqrt(0.8 * 0.2 / 10 + z * z / 400) / (1 + z * z / 10)
    assert wilson_interval(8, 10) == pytest.approx((centre - half, centre + half))
    with pytest.raises(ValueError, match="successes must lie in"):
        wilson_interval(11, 10)
    with pytest.raises(ValueError, match="n must be a positive integer"):
        wilson_interval(0, 0)
    with pytest.raises(ValueError, match="level must lie in"):
        wilson_interval(1, 2, level=1.0)


def test_bootstrap_ece_point_is_the_core_ece_and_interval_covers_it() -> None:
    rng = np.random.default_rng(0)
    conf = rng.uniform(0.5, 1.0, size=60)  # top-label confidences of two classes
    correct = rng.uniform(size=60) < conf - 0.1  # overconfident by about 0.1
    ci = bootstrap_ece(conf, correct, n_bins=10, n_boot=500, seed=1)
    # The same binning core as the metrics: a two-class probs matrix with these confidences gives the same ECE.
    probs = np.stack([conf, 1 - conf], axis=1)
    labels = np.where(correct, 0, 1)
    assert ci.estimate == pytest.approx(expected_calibration_error(probs, labels, n_bins=10))
    assert ci.low <= ci.estimate <= ci.high and ci.high - ci.low > 0.02
    assert ci.method == "percentile bootstrap" and ci.level == 0.95
    assert bootstrap_ece(conf, correct, n_boot=200, seed=1) == bootstrap_ece(
        conf, correct, n_boot=200, seed=1
    )
    # Resampled ECEs computed by brute force agree with the vectorised ones.
    draws = np.random.default_rng(1).integers(0, 60, size=(500, 60))
    brute = [expected_calibration_error(probs[d], labels[d], n_bins=10) for d in draws[:20]]
    values = np.sort(brute)
    assert values.min() >= 0.0
    low, high = np.quantile(
        [expected_calibration_error(probs[d], labels[d], n_bins=10) for d in draws], [0.025, 0.975]
    )
    assert (ci.low, ci.high) == pytest.approx((low, high), abs=1e-9)
    with pytest.raises(ValueError, match="same length"):
        bootstrap_ece(conf, correct[:5])


def test_draw_audit_is_uniform_seeded_and_order_free() -> None:
    candidates = np.arange(100, 140)
    a = draw_audit(candidates, 5, seed=3, round=2)
    assert a.tolist() == draw_audit(candidates[::-1], 5, seed=3, round=2).tolist()
    assert len(set(a.tolist())) == 5 and set(a.tolist()) <= set(candidates.tolist())
    assert a.tolist() != draw_audit(candidates, 5, seed=3, round=3).tolist()
    # Uniform: over many rounds every candidate is drawn about equally often (5/40 of the time).
    counts = np.zeros(40)
    for r in range(2000):
        counts[draw_audit(candidates, 5, seed=0, round=r) - 100] += 1
    assert counts.min() > 2000 * 5 / 40 * 0.75 and counts.max() < 2000 * 5 / 40 * 1.25
    with pytest.raises(ValueError, match="k=41 audit items were asked from only 40"):
        draw_audit(candidates, 41, seed=0, round=0)
    assert audit_size(12, 0.15) == 2 and audit_size(2, 0.9) == 1 and audit_size(20, 0) == 0


def test_estimate_counts_labels_skips_and_pending() -> None:
    items = [
        AuditItem(1, 0, 0, 0.9),
        AuditItem(2, 0, 1, 0.8),
        AuditItem(3, 1, 1, 0.6),
        AuditItem(4, 1, 0, 0.7),
        AuditItem(5, 1, 2, 0.5),
        AuditItem(6, 2, 0, 0.9),
    ]
    labels = {1: 0, 2: 1, 3: 0, 4: 0}  # 3 of 4 right; 5 skipped; 6 not labeled yet
    est = estimate(items, labels, skipped=[5], n_boot=200)
    assert (est.n, est.correct, est.skipped, est.pending, est.rounds) == (4, 3, 1, 1, (0, 1))
    assert est.accuracy.estimate == 0.75
    assert (est.accuracy.low, est.accuracy.high) == pytest.approx(wilson_interval(3, 4))
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.7, 0.3]])
    assert est.ece.estimate == pytest.approx(
        expected_calibration_error(probs, np.array([0, 1, 0, 0]), n_bins=10)
    )
    assert "on 4 audit images drawn at random; 1 skipped audit image left out" in est.describe()
    assert "(Wilson 95%)" in est.describe() and "(bootstrap 95%)" in est.describe()
    recent = estimate(items, labels, rounds=[1], n_boot=50)
    assert (recent.n, recent.correct) == (2, 1)
    empty = estimate(items, {})
    assert empty.accuracy is None and empty.n == 0 and "no audit image labeled yet" in empty.describe()


def test_audit_log_survives_a_restart_and_replaces_a_round(tmp_path: Path) -> None:
    path = tmp_path / "audit.json"
    log = AuditLog(path)
    log.set_round(0, [AuditItem(4, 0, 1, 0.9), AuditItem(7, 0, 0, 0.6)])
    log.set_round(1, [AuditItem(9, 1, 2, 0.5)])
    log.set_round(1, [AuditItem(11, 1, 2, 0.5)])  # the batch was asked again
    again = AuditLog(path)
    assert [it.index for it in again.items()] == [4, 7, 11]
    assert again.indices(0) == {4, 7} and again.indices(5) == frozenset()
    assert json.loads(path.read_text())["format"] == 1
    with pytest.raises(ValueError, match="items must be AuditItems of round 2"):
        log.set_round(2, [AuditItem(1, 1, 0, 0.5)])
    path.write_text('{"rounds": 3}')
    with pytest.raises(ValueError, match="not an alnb audit file"):
        AuditLog(path)
