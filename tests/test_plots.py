"""Tests of alnb.plots: render with Agg and check the drawn data against the metrics."""

from __future__ import annotations

import doctest
import io

import numpy as np
import pytest
import torch
from matplotlib.axes import Axes
from matplotlib.container import BarContainer
from matplotlib.figure import Figure
from PIL import Image

import alnb.plots
from alnb.metrics import calibration_bins, expected_calibration_error
from alnb.plots import class_histogram, format_ece, learning_curves, reliability_diagram


def random_probs(seed: int, n: int = 300, c: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    probs = torch.softmax(torch.randn(n, c, generator=g, dtype=torch.float64) * 2, dim=1)
    labels = torch.where(
        torch.rand(n, generator=g) < 0.5, probs.argmax(dim=1), torch.randint(0, c, (n,), generator=g)
    )
    return probs, labels


def bar_container(ax: Axes, label: str) -> BarContainer:
    found = [c for c in ax.containers if isinstance(c, BarContainer) and c.get_label() == label]
    assert len(found) == 1, f"expected one bar container labelled {label!r}"
    return found[0]


def render_png(fig: Figure) -> np.ndarray:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=60)
    data = buffer.getvalue()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


@pytest.mark.parametrize("binning", ["uniform", "quantile"])
@pytest.mark.parametrize(("seed", "n_bins"), [(0, 10), (1, 15), (2, 5)])
def test_reliability_diagram_draws_the_bins(seed: int, n_bins: int, binning: str) -> None:
    probs, labels = random_probs(seed)
    fig = reliability_diagram(probs, labels, n_bins=n_bins, binning=binning)
    assert isinstance(fig, Figure)
    ax, hist = fig.axes
    bins = calibration_bins(probs, labels, n_bins=n_bins, binning=binning)
    filled = bins.count.numpy() > 0
    acc, conf = bins.accuracy.numpy()[filled], bins.confidence.numpy()[filled]

    accuracy_bars = bar_container(ax, "accuracy")
    np.testing.assert_allclose([r.get_height() for r in accuracy_bars], acc)
    np.testing.assert_allclose([r.get_x() for r in accuracy_bars], bins.edges.numpy()[:-1][filled])
    np.testing.assert_allclose([r.get_width() for r in accuracy_bars], np.diff(bins.edges.numpy())[filled])

    # The gap: a red segment per bin from accuracy to mean confidence, beside the bar's middle (never over it
    # whole), and a tick at the mean confidence.
    (gap,) = [c for c in ax.collections if c.get_label() == "gap"]
    segments = np.array(gap.get_segments())  # [bins, 2 points, (x, y)]
    np.testing.assert_allclose(segments[:, 0, 1], acc)
    np.testing.assert_allclose(segments[:, 1, 1], conf)
    (ticks,) = [c for c in ax.collections if c.get_label() == "mean confidence"]
    np.testing.assert_allclose(np.array(ticks.get_segments())[:, 0, 1], conf)

    diagonal = ax.get_lines()[0]
    np.testing.assert_allclose(diagonal.get_xdata(), [0, 1])
    np.testing.assert_allclose(diagonal.get_ydata(), [0, 1])
    assert ax.get_ylim() == (0.0, 1.0)  # accuracy never shares an axis with counts

    # The confidence histogram is its own panel under the diagram, on a count axis, same bins.
    assert hist.get_label() == "confidence histogram" and hist.get_ylabel() == "count"
    assert hist.get_position().y1 <= ax.get_position().y0 + 1e-9
    counts = bar_container(hist, "confidence histogram")
    np.testing.assert_allclose([r.get_height() for r in counts], bins.count.numpy())
    np.testing.assert_allclose([r.get_x() for r in counts], bins.edges.numpy()[:-1])
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == ["perfect calibration", "gap", "mean confidence", "accuracy"]

    ece = expected_calibration_error(probs, labels, n_bins=n_bins, binning=binning)
    assert ax.get_title() == f"ECE = {format_ece(ece)}"
    assert format_ece(ece) == f"{ece:.4f}"
    image = render_png(fig)
    assert image.shape[0] > 100 and len(np.unique(image.reshape(-1, 3), axis=0)) > 10


def test_reliability_diagram_counts_confidence_one() -> None:
    # Three one-hot rows (confidence exactly 1.0, two right) and one row at 0.55 (wrong).
    probs = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.55, 0.45]])
    labels = np.array([0, 1, 1, 1])
    fig = reliability_diagram(probs, labels, n_bins=10)
    heights = [r.get_height() for r in bar_container(fig.axes[0], "accuracy")]
    np.testing.assert_allclose(heights, [0.0, 2 / 3])
    # ECE = (1 * .55 + 3 * |2/3 - 1|) / 4 = 0.3875
    assert fig.axes[0].get_title() == "ECE = 0.3875"


def test_reliability_diagram_into_given_axes_with_title() -> None:
    fig = Figure()
    ax = fig.add_subplot()
    probs, labels = random_probs(3)
    out = reliability_diagram(probs, labels, ax=ax, title="CoOp + UC")
    assert out is ax
    ece = format_ece(expected_calibration_error(probs, labels))
    assert ax.get_title() == f"CoOp + UC (ECE = {ece})"
    render_png(fig)


def test_plots_do_not_touch_pyplot() -> None:
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    probs, labels = random_probs(4)
    reliability_diagram(probs, labels)
    learning_curves({"a": [[{"num_labeled": 1, "accuracy": 0.5}]]})
    class_histogram([1, 2], ["x", "y"])
    assert plt.get_fignums() == before


def test_reliability_diagram_validates_input() -> None:
    with pytest.raises(ValueError, match="labels has 1 entries but there are 2 rows"):
        reliability_diagram(np.full((2, 2), 0.5), np.array([0]))
    with pytest.raises(ValueError, match="ax must be a matplotlib Axes"):
        reliability_diagram(np.full((2, 2), 0.5), np.array([0, 1]), ax="left")


def make_runs(seed: int) -> dict[str, list[list[dict[str, float]]]]:
    rng = np.random.default_rng(seed)
    runs = {}
    for name in ("entropy", "random", "uc+entropy"):
        runs[name] = [
            [
                {"num_labeled": 10 * (r + 1), "accuracy": float(rng.random()), "ece": float(rng.random())}
                for r in range(5)
            ]
            for _ in range(3)
        ]
    return runs


@pytest.mark.parametrize("metric", ["accuracy", "ece"])
@pytest.mark.parametrize("seed", [0, 1])
def test_learning_curves_draw_mean_and_band(seed: int, metric: str) -> None:
    runs = make_runs(seed)
    fig = learning_curves(runs, metric=metric)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    lines = ax.get_lines()
    assert [line.get_label() for line in lines] == list(runs)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(runs)
    assert ax.get_ylabel() == metric and ax.get_xlabel() == "number of labels"
    for line, band, histories in zip(lines, ax.collections, runs.values()):
        values = np.array([[record[metric] for record in h] for h in histories])  # [seed, round]
        mean, std = values.mean(axis=0), values.std(axis=0)
        np.testing.assert_allclose(line.get_xdata(), [10, 20, 30, 40, 50])
        np.testing.assert_allclose(line.get_ydata(), mean)
        band_y = band.get_paths()[0].vertices[:, 1]
        for lo, hi in zip(mean - std, mean + std):
            assert np.isclose(band_y, lo).any() and np.isclose(band_y, hi).any()
    render_png(fig)


def test_learning_curves_align_seeds_of_different_length() -> None:
    runs = {
        "a": [
            [{"num_labeled": 4, "accuracy": 0.2}, {"num_labeled": 8, "accuracy": 0.4}],
            [{"num_labeled": 4, "accuracy": 0.4}],  # this seed stopped early
        ]
    }
    ax = Figure().add_subplot()
    assert learning_curves(runs, ax=ax, title="budget") is ax
    np.testing.assert_allclose(ax.get_lines()[0].get_xdata(), [4, 8])
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), [0.3, 0.4])
    assert ax.get_title() == "budget"


def test_learning_curves_accept_a_single_history() -> None:
    fig = learning_curves(
        {"only": [{"num_labeled": 1, "accuracy": 0.1}, {"num_labeled": 2, "accuracy": 0.3}]}
    )
    np.testing.assert_allclose(fig.axes[0].get_lines()[0].get_ydata(), [0.1, 0.3])


def test_learning_curves_reject_bad_runs() -> None:
    with pytest.raises(KeyError, match=r"runs\['a'\]\[0\]\[1\] has no 'ece'"):
        learning_curves({"a": [[{"num_labeled": 1, "ece": 0.1}, {"num_labeled": 2, "accuracy": 0.2}]]}, "ece")
    with pytest.raises(ValueError, match="runs must be a non-empty mapping"):
        learning_curves({})
    with pytest.raises(ValueError, match=r"runs\['a'\] must be a non-empty list of histories"):
        learning_curves({"a": []})
    with pytest.raises(ValueError, match=r"runs\['a'\]\[0\]\[0\] must be a dict record"):
        learning_curves({"a": [[0.5]]})


def test_class_histogram_bars_and_labels() -> None:
    names = ["cat", "dog", "owl", "fox"]
    fig = class_histogram(np.array([3, 0, 5, 1]), names, title="labels per class")
    ax = fig.axes[0]
    bars = bar_container(ax, "count")
    assert [r.get_height() for r in bars] == [3.0, 0.0, 5.0, 1.0]
    assert [t.get_text() for t in ax.get_xticklabels()] == names
    assert [t.get_text() for t in ax.texts] == ["3", "0", "5", "1"]
    assert ax.get_title() == "labels per class"
    render_png(fig)


def test_class_histogram_into_axes_and_many_classes() -> None:
    ax = Figure().add_subplot()
    names = [f"class {i}" for i in range(12)]
    assert class_histogram(torch.arange(12), names, ax=ax) is ax
    # Many classes: horizontal bars, first class on top, every name upright.
    assert [r.get_width() for r in bar_container(ax, "count")] == list(range(12))
    tops = {t.get_text(): y for t, y in zip(ax.get_yticklabels(), ax.get_yticks())}
    assert sorted(tops, key=tops.get, reverse=True) == names
    assert all(t.get_rotation() == 0 for t in ax.get_yticklabels())
    render_png(ax.get_figure())


@pytest.mark.parametrize(
    ("counts", "names", "match"),
    [
        ([1, 2, 3], ["a", "b"], "class_names has 2 entries but counts has 3"),
        ([1, -2], ["a", "b"], "counts must be finite and non-negative"),
        ([[1, 2]], ["a", "b"], "counts must be a non-empty 1-D array"),
        (["x", "y"], ["a", "b"], "counts must be a 1-D array of numbers"),
    ],
)
def test_class_histogram_rejects_bad_input(counts, names, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        class_histogram(counts, names)


def test_docstring_examples() -> None:
    result = doctest.testmod(alnb.plots)
    assert result.attempted > 0 and result.failed == 0
