"""Tests of alnb.metrics: hand-computed fixtures and agreement with torchmetrics and scikit-learn."""

from __future__ import annotations

import doctest
import importlib
import math

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, brier_score_loss, log_loss, roc_auc_score
from torchmetrics.functional.classification import multiclass_calibration_error

from alnb._validation import (
    check_choice,
    check_fraction,
    check_non_negative,
    check_positive_int,
    check_same_length,
)
from alnb.metrics import (
    METRIC_NAMES,
    CalibrationError,
    accuracy,
    adaptive_calibration_error,
    bin_scores,
    brier_score,
    calibration_bins,
    classwise_calibration_error,
    error_detection_auroc,
    evaluate,
    expected_calibration_error,
    maximum_calibration_error,
    negative_log_likelihood,
    predictive_entropy,
)

# Hand-computed fixture: 6 rows, 3 classes, 5 uniform bins with edges 0, .2, .4, .6, .8, 1.
#   row  probs               label  conf  correct  bin
#   0    [0.70, 0.20, 0.10]  0      0.70  yes      3  [.6, .8)
#   1    [0.10, 0.65, 0.25]  2      0.65  no       3
#   2    [0.90, 0.05, 0.05]  0      0.90  yes      4  [.8, 1]
#   3    [0.30, 0.50, 0.20]  0      0.50  no       2  [.4, .6)
#   4    [0.85, 0.10, 0.05]  1      0.85  no       4
#   5    [1.00, 0.00, 0.00]  0      1.00  yes      4  (exactly 1.0: the last bin is closed)
# bin 2: n=1, conf .5, acc 0 -> gap .5
# bin 3: n=2, conf .675, acc .5 -> gap .175
# bin 4: n=3, conf 2.75/3, acc 2/3 -> gap .25
# ECE (l1) = (1*.5 + 2*.175 + 3*.25) / 6 = 1.6 / 6
# l2 = sqrt((1*.25 + 2*.175**2 + 3*.25**2) / 6);  MCE = .5
FIXTURE_PROBS = np.array(
    [
        [0.70, 0.20, 0.10],
        [0.10, 0.65, 0.25],
        [0.90, 0.05, 0.05],
        [0.30, 0.50, 0.20],
        [0.85, 0.10, 0.05],
        [1.00, 0.00, 0.00],
    ]
)
FIXTURE_LABELS = np.array([0, 2, 0, 0, 1, 0])
FIXTURE_ECE = {
    "l1": 1.6 / 6,
    "l2": math.sqrt((0.25 + 2 * 0.175**2 + 3 * 0.25**2) / 6),
    "max": 0.5,
}


def random_probs(
    seed: int, n: int = 400, c: int = 5, scale: float = 2.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Softmax of random logits (never exactly 1.0) ; labels agree with the arg-max often."""
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, c, generator=g, dtype=torch.float64) * scale
    probs = torch.softmax(logits, dim=1)
    labels = torch.where(
        torch.rand(n, generator=g) < 0.6, probs.argmax(dim=1), torch.randint(0, c, (n,), generator=g)
    )
    return probs, labels


def test_calibration_bins_hand_fixture() -> None:
    bins = calibration_bins(FIXTURE_PROBS, FIXTURE_LABELS, n_bins=5)
    assert bins.n_bins == 5
    np.testing.assert_allclose(bins.edges.numpy(), [0, 0.2, 0.4, 0.6, 0.8, 1.0])
    assert bins.count.tolist() == [0, 0, 1, 2, 3]
    np.testing.assert_allclose(bins.accuracy.numpy(), [np.nan, np.nan, 0.0, 0.5, 2 / 3])
    np.testing.assert_allclose(bins.confidence.numpy(), [np.nan, np.nan, 0.5, 0.675, 2.75 / 3])
    np.testing.assert_allclose(bins.weight.numpy(), [0, 0, 1 / 6, 2 / 6, 3 / 6])
    assert bins.total == 6


@pytest.mark.parametrize("norm", ["l1", "l2", "max"])
def test_ece_hand_fixture(norm: str) -> None:
    value = expected_calibration_error(FIXTURE_PROBS, FIXTURE_LABELS, n_bins=5, norm=norm)
    assert value == pytest.approx(FIXTURE_ECE[norm], abs=1e-12)


def test_mce_is_max_norm() -> None:
    assert maximum_calibration_error(FIXTURE_PROBS, FIXTURE_LABELS, n_bins=5) == pytest.approx(0.5)


@pytest.mark.parametrize("correct", [True, False])
def test_confidence_of_exactly_one_is_counted(correct: bool) -> None:
    # Four one-hot rows: every confidence is exactly 1.0 and must land in the (closed) last bin.
    probs = torch.eye(4)
    labels = torch.arange(4) if correct else (torch.arange(4) + 1) % 4
    bins = calibration_bins(probs, labels, n_bins=10)
    assert bins.count.tolist() == [0] * 9 + [4]
    assert bins.confidence[-1].item() == 1.0
    assert expected_calibration_error(probs, labels, n_bins=10) == pytest.approx(0.0 if correct else 1.0)


def test_bin_boundary_belongs_to_the_upper_bin() -> None:
    # Bins are [b_i, b_i+1): a score of exactly 0.5 with two bins goes to the second bin.
    bins = bin_scores(torch.tensor([0.5, 0.25]), torch.tensor([1.0, 0.0]), n_bins=2)
    assert bins.count.tolist() == [1, 1]
    assert bins.confidence.tolist() == [0.25, 0.5]


def test_quantile_bins_hand_fixture() -> None:
    # Confidences .9 .6 .7 .8 (right, wrong, right, wrong); two equal-mass bins split at the median .75:
    # {.6 wrong, .7 right}: conf .65, acc .5, gap .15; {.8 wrong, .9 right}: conf .85, acc .5, gap .35.
    probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.8, 0.2]])
    labels = np.array([0, 1, 1, 1])
    bins = calibration_bins(probs, labels, n_bins=2, binning="quantile")
    assert bins.count.tolist() == [2, 2]
    np.testing.assert_allclose(bins.edges.numpy(), [0.0, 0.75, 1.0])
    np.testing.assert_allclose(bins.confidence.numpy(), [0.65, 0.85])
    assert adaptive_calibration_error(probs, labels, n_bins=2) == pytest.approx(0.25)


@pytest.mark.parametrize("n_bins", [2, 4, 5, 8])
def test_quantile_bins_have_equal_mass(n_bins: int) -> None:
    probs, labels = random_probs(seed=3, n=200)
    bins = calibration_bins(probs, labels, n_bins=n_bins, binning="quantile")
    assert bins.total == 200
    assert bins.count.max() - bins.count.min() <= 1


def test_samples_axis_is_averaged_first() -> None:
    g = torch.Generator().manual_seed(0)
    samples = torch.softmax(torch.randn(50, 4, 6, generator=g), dim=1)  # [N, C, K]
    labels = torch.randint(0, 4, (50,), generator=g)
    mean = samples.mean(dim=2)
    assert expected_calibration_error(samples, labels) == pytest.approx(
        expected_calibration_error(mean, labels)
    )
    assert evaluate(samples, labels) == pytest.approx(evaluate(mean, labels), nan_ok=True)


def test_numpy_and_torch_inputs_agree() -> None:
    probs, labels = random_probs(seed=1)
    assert evaluate(probs.numpy(), labels.numpy()) == pytest.approx(evaluate(probs, labels))


@pytest.mark.parametrize("norm", ["l1", "l2", "max"])
@pytest.mark.parametrize("n_bins", [5, 15])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ece_matches_torchmetrics(norm: str, n_bins: int, seed: int) -> None:
    # torchmetrics puts a confidence of exactly 1.0 into an extra bin; random softmax never reaches it.
    probs, labels = random_probs(seed)
    assert float(probs.max()) < 1.0
    expected = multiclass_calibration_error(
        probs, labels, num_classes=probs.shape[1], n_bins=n_bins, norm=norm
    )
    assert expected_calibration_error(probs, labels, n_bins=n_bins, norm=norm) == pytest.approx(
        float(expected), abs=1e-5
    )


@pytest.mark.parametrize("n_bins", [1, 3, 10])
def test_calibration_error_class_accumulates(n_bins: int) -> None:
    probs, labels = random_probs(seed=4)
    metric = CalibrationError(n_bins=n_bins, norm="l2")
    for start in range(0, len(labels), 64):
        metric.update(probs[start : start + 64], labels[start : start + 64])
    assert metric.compute() == pytest.approx(
        expected_calibration_error(probs, labels, n_bins=n_bins, norm="l2")
    )
    metric.reset()
    with pytest.raises(ValueError, match="before update"):
        metric.compute()


def test_calibration_error_class_quantile_is_ace() -> None:
    probs, labels = random_probs(seed=5)
    metric = CalibrationError(n_bins=10, binning="quantile")
    metric.update(probs, labels)
    assert metric.compute() == pytest.approx(adaptive_calibration_error(probs, labels, n_bins=10))
    assert "quantile" in repr(metric)


def _classwise_reference(probs: np.ndarray, labels: np.ndarray, n_bins: int) -> float:
    """Independent numpy form: per class, uniform bins of p[:, c] against 1[y == c]."""
    n, c = probs.shape
    errors = []
    for k in range(c):
        scores, hits = probs[:, k], (labels == k).astype(float)
        index = np.minimum((scores * n_bins).astype(int), n_bins - 1)
        error = 0.0
        for b in range(n_bins):
            mask = index == b
            if mask.any():
                error += mask.sum() / n * abs(hits[mask].mean() - scores[mask].mean())
        errors.append(error)
    return float(np.mean(errors))


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("n_bins", [4, 15])
def test_classwise_matches_reference(seed: int, n_bins: int) -> None:
    probs, labels = random_probs(seed, c=4)
    probs64 = probs.double().numpy()
    expected = _classwise_reference(probs64, labels.numpy(), n_bins)
    assert classwise_calibration_error(probs64, labels, n_bins=n_bins) == pytest.approx(expected, abs=1e-9)


def test_classwise_hand_fixture() -> None:
    # One bin: class 0 has |1 - (.8 + .4)/2| = .4, class 1 has |0 - (.2 + .6)/2| = .4, mean .4.
    probs = np.array([[0.8, 0.2], [0.4, 0.6]])
    assert classwise_calibration_error(probs, np.array([0, 0]), n_bins=1) == pytest.approx(0.4)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_scores_match_sklearn(seed: int) -> None:
    probs, labels = random_probs(seed, c=6)
    p, y = probs.double().numpy(), labels.numpy()
    assert accuracy(p, y) == pytest.approx(accuracy_score(y, p.argmax(axis=1)))
    assert negative_log_likelihood(p, y) == pytest.approx(log_loss(y, p, labels=range(6)))
    assert brier_score(p, y) == pytest.approx(brier_score_loss(y, p, labels=range(6), scale_by_half=False))


def test_scores_hand_values() -> None:
    probs = np.array([[0.9, 0.1], [0.6, 0.4]])
    labels = np.array([0, 1])
    assert accuracy(probs, labels) == 0.5
    assert brier_score(probs, labels) == pytest.approx((0.01 + 0.01 + 0.36 + 0.36) / 2)
    assert negative_log_likelihood(probs, labels) == pytest.approx(-(math.log(0.9) + math.log(0.4)) / 2)


def test_nll_of_zero_probability_is_finite() -> None:
    value = negative_log_likelihood(np.array([[1.0, 0.0]]), np.array([1]))
    assert value == pytest.approx(-math.log(np.finfo(np.float64).eps))


def test_predictive_entropy() -> None:
    entropy = predictive_entropy(np.array([[0.5, 0.5], [1.0, 0.0], [0.25, 0.75]]))
    expected = [math.log(2), 0.0, -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))]
    np.testing.assert_allclose(entropy.numpy(), expected)


def test_auroc_hand_fixture_with_ties() -> None:
    # Wrong: .9, .5; right: .5, .1. Pairs (wrong, right): (.9,.5) 1, (.9,.1) 1, (.5,.5) 1/2, (.5,.1) 1: 3.5/4.
    assert error_detection_auroc([0.9, 0.5, 0.5, 0.1], [False, False, True, True]) == 0.875
    assert error_detection_auroc(np.array([0.1, 0.9]), np.array([0, 1])) == 0.0
    assert error_detection_auroc(torch.tensor([0.3, 0.3]), torch.tensor([True, False])) == 0.5


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_auroc_matches_sklearn_with_ties(seed: int) -> None:
    rng = np.random.default_rng(seed)
    uncertainty = np.round(rng.random(300), 1)  # many ties
    correct = rng.random(300) < 0.7
    expected = roc_auc_score(~correct, uncertainty)
    assert error_detection_auroc(uncertainty, correct) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("correct", [[True, True, True], [False, False, False]])
def test_auroc_is_nan_with_one_class(correct: list[bool]) -> None:
    assert math.isnan(error_detection_auroc([0.1, 0.2, 0.3], correct))


@pytest.mark.parametrize(
    ("uncertainty", "correct", "match"),
    [
        ([0.1, 0.2], [True], "correct must be shaped"),
        ([[0.1, 0.2]], [True], "uncertainty must be shaped"),
        ([0.1, float("nan")], [True, False], "uncertainty must be finite"),
        ([0.1, 0.2], [0, 2], "correct must hold booleans"),
    ],
)
def test_auroc_rejects_bad_input(uncertainty: list, correct: list, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        error_detection_auroc(uncertainty, correct)


@pytest.mark.parametrize("seed", [0, 1])
def test_evaluate_agrees_with_each_metric(seed: int) -> None:
    probs, labels = random_probs(seed)
    metrics = evaluate(probs, labels, n_bins=10)
    assert list(metrics) == list(METRIC_NAMES)
    assert all(isinstance(v, float) for v in metrics.values())
    p, y = probs.double().numpy(), labels.numpy()
    assert metrics["accuracy"] == pytest.approx(accuracy_score(y, p.argmax(axis=1)))
    assert metrics["ece"] == pytest.approx(expected_calibration_error(p, y, n_bins=10))
    assert metrics["mce"] == pytest.approx(maximum_calibration_error(p, y, n_bins=10))
    assert metrics["ace"] == pytest.approx(adaptive_calibration_error(p, y, n_bins=10))
    assert metrics["classwise_ece"] == pytest.approx(classwise_calibration_error(p, y, n_bins=10))
    assert metrics["nll"] == pytest.approx(log_loss(y, p, labels=range(p.shape[1])))
    assert metrics["brier"] == pytest.approx(
        brier_score_loss(y, p, labels=range(p.shape[1]), scale_by_half=False)
    )
    entropy = -(p * np.log(p)).sum(axis=1)
    assert metrics["auroc"] == pytest.approx(roc_auc_score(p.argmax(axis=1) != y, entropy))


def test_evaluate_auroc_nan_when_all_correct() -> None:
    probs = np.array([[0.9, 0.1], [0.2, 0.8]])
    metrics = evaluate(probs, np.array([0, 1]))
    assert math.isnan(metrics["auroc"])
    assert metrics["accuracy"] == 1.0


BAD_INPUTS = [
    pytest.param(
        np.full((3, 2), 0.5), np.array([0, 1]), "labels has 2 entries but there are 3 rows", id="length"
    ),
    pytest.param(
        np.full((2, 2), 0.5), np.array([0, 2]), r"labels must lie in \[0, 2\).*got 2", id="label-high"
    ),
    pytest.param(
        np.full((2, 2), 0.5), np.array([-1, 0]), r"labels must lie in \[0, 2\).*got -1", id="label-low"
    ),
    pytest.param(np.full((2, 2), 0.5), np.array([0.0, 1.0]), "labels must hold integer", id="float-labels"),
    pytest.param(np.full((2, 2), 0.5), np.array([[0, 1]]), "labels must be shaped", id="label-ndim"),
    pytest.param(np.array([[0.5, 0.6], [0.5, 0.5]]), np.array([0, 1]), "row 0 sums to 1.1", id="row-sum"),
    pytest.param(np.array([[2.0, -1.0]]), np.array([0]), r"must lie in \[0, 1\]", id="range"),
    pytest.param(np.array([[np.nan, 0.5]]), np.array([0]), "probs must be finite", id="nan"),
    pytest.param(np.array([[np.inf, 0.5]]), np.array([0]), "probs must be finite", id="inf"),
    pytest.param(np.full(4, 0.25), np.array([0]), r"probs must be shaped \[N, C\] or \[N, C, K\]", id="1d"),
    pytest.param(np.full((1, 2, 1, 1), 0.5), np.array([0]), "probs must be shaped", id="4d"),
    pytest.param(np.zeros((0, 3)), np.array([], dtype=int), "at least one row", id="empty"),
    pytest.param(np.array([[1, 0]]), np.array([0]), "floating-point", id="int-probs"),
]


@pytest.mark.parametrize(("probs", "labels", "match"), BAD_INPUTS)
@pytest.mark.parametrize(
    "metric",
    [
        expected_calibration_error,
        calibration_bins,
        classwise_calibration_error,
        brier_score,
        evaluate,
        accuracy,
    ],
)
def test_bad_input_raises_value_error(probs: np.ndarray, labels: np.ndarray, match: str, metric) -> None:
    with pytest.raises(ValueError, match=match):
        metric(probs, labels)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_bins": 0}, "n_bins must be a positive integer"),
        ({"n_bins": 2.5}, "n_bins must be a positive integer"),
        ({"norm": "l3"}, "norm must be one of"),
        ({"binning": "log"}, "binning must be one of"),
    ],
)
def test_bad_options_raise(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        expected_calibration_error(FIXTURE_PROBS, FIXTURE_LABELS, **kwargs)


def test_row_sum_tolerance() -> None:
    # Rows off by less than 1e-3 (float32 softmax rounding) are accepted.
    probs = np.array([[0.5004, 0.5]])
    assert accuracy(probs, np.array([0])) == 1.0


@pytest.mark.parametrize(
    "name",
    ["alnb.metrics.binning", "alnb.metrics.calibration", "alnb.metrics.evaluate", "alnb.metrics.scores"],
)
def test_docstring_examples(name: str) -> None:
    # import_module: the package attribute alnb.metrics.evaluate is the function, not the module.
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert module.__all__


@pytest.mark.parametrize(
    ("check", "value", "match"),
    [
        (check_positive_int, 0, "n must be a positive integer, got 0"),
        (check_positive_int, True, "n must be a positive integer, got True"),
        (check_positive_int, 1.0, "n must be a positive integer, got 1.0"),
        (check_non_negative, -0.5, "n must be a finite non-negative number, got -0.5"),
        (check_non_negative, float("inf"), "n must be a finite non-negative number"),
        (check_non_negative, "1", "n must be a non-negative number"),
        (check_fraction, 1.5, r"n must lie in \[0, 1\], got 1.5"),
    ],
)
def test_scalar_checks_name_argument_and_value(check, value, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        check(value, "n")


def test_scalar_checks_pass_good_values() -> None:
    assert check_positive_int(np.int64(3), "n") == 3
    assert check_non_negative(0, "w") == 0.0
    assert check_fraction(1, "r") == 1.0
    with pytest.raises(ValueError, match=r"r must lie in \(0, 1\)"):
        check_fraction(1, "r", inclusive=False)
    assert check_choice("a", "x", ("a", "b")) == "a"
    with pytest.raises(ValueError, match="x must be one of 'a', 'b'; got 'c'"):
        check_choice("c", "x", ("b", "a"))
    assert check_same_length(a=[1, 2], b=np.zeros(2)) == 2
    with pytest.raises(ValueError, match="a has 2, b has 3"):
        check_same_length(a=[1, 2], b=[1, 2, 3])
