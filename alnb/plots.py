"""Matplotlib figures: reliability diagram, learning curves and class histogram.

Every function draws into ``ax`` when one is given and returns it; otherwise it builds a
:class:`matplotlib.figure.Figure` directly (not through pyplot, so nothing is shown twice in a notebook and no
figure is left open) and returns the figure. Nothing here calls ``plt.show``; the module works with the Agg
backend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from alnb._validation import describe
from alnb.metrics.binning import Binning, calibration_bins

__all__ = ["class_histogram", "format_ece", "learning_curves", "reliability_diagram"]


def format_ece(value: float) -> str:
    """How figures print a calibration error: four decimals (``0.0423``)."""
    return f"{value:.4f}"


def _target(ax: Axes | None, figsize: tuple[float, float]) -> tuple[Figure | None, Axes]:
    if ax is None:
        fig = Figure(figsize=figsize, layout="constrained")
        return fig, fig.add_subplot()
    if not isinstance(ax, Axes):
        raise ValueError(f"ax must be a matplotlib Axes or None, got {describe(ax)}.")
    return None, ax


def _histogram_axes(axes: Axes) -> Axes:
    """A short panel under ``axes`` sharing its x axis (``axes`` keeps about three quarters of its space)."""
    fig = axes.get_figure()
    spec = axes.get_subplotspec()
    if spec is not None and fig is not None:
        inner = spec.subgridspec(2, 1, height_ratios=[3, 1], hspace=0.05)
        axes.set_subplotspec(inner[0])
        return fig.add_subplot(inner[1], sharex=axes)
    from mpl_toolkits.axes_grid1 import make_axes_locatable

    return make_axes_locatable(axes).append_axes("bottom", size="30%", pad=0.1, sharex=axes)


def reliability_diagram(
    probs: Any,
    labels: Any,
    n_bins: int = 15,
    ax: Axes | None = None,
    *,
    binning: Binning = "uniform",
    title: str | None = None,
) -> Figure | Axes:
    """Reliability diagram drawn from :func:`alnb.metrics.calibration_bins`, so picture and ECE always agree.

    Read it the usual way: the bars are the accuracy of each confidence bin (label ``"accuracy"``) against the
    dashed diagonal of perfect calibration; each bin's mean confidence is a black tick (``"mean confidence"``)
    and the gap between the two a red segment beside it (``"gap"``: above a bar the model is overconfident,
    inside it underconfident), so the gap never hides the bar. Under the diagram, a small panel of its own
    (label ``"confidence histogram"``) shows how many samples fall in each bin, on a count axis. The title
    holds the ECE (l1 over these bins, formatted by :func:`format_ece`).

    Parameters
    ----------
    probs : Tensor or ndarray, shape (N, C) or (N, C, K)
        Class probabilities (K samples are averaged first).
    labels : Tensor or ndarray of int, shape (N,)
        True classes.
    n_bins : int
        Number of bins.
    ax : Axes, optional
        Draw here (its space is split: the diagram on top, the histogram panel under it); otherwise a new
        figure is made.
    binning : {"uniform", "quantile"}
        Equal-width or equal-mass bins.
    title : str, optional
        Text placed before the ECE in the title.

    Returns
    -------
    Figure or Axes
        The new figure when ``ax`` is None, else ``ax`` (the diagram's axes).

    Examples
    --------
    >>> import numpy as np
    >>> probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.8, 0.2]])
    >>> fig = reliability_diagram(probs, np.array([0, 1, 1, 1]), n_bins=2)
    >>> fig.axes[0].get_title(), fig.axes[1].get_label()
    ('ECE = 0.2500', 'confidence histogram')
    """
    bins = calibration_bins(probs, labels, n_bins=n_bins, binning=binning)
    fig, axes = _target(ax, (5.0, 5.5))
    hist = _histogram_axes(axes)
    edges = bins.edges.numpy()
    filled = bins.count.numpy() > 0
    left = edges[:-1][filled]
    width = np.diff(edges)[filled]
    acc = bins.accuracy.numpy()[filled]
    conf = bins.confidence.numpy()[filled]

    axes.plot([0, 1], [0, 1], linestyle="--", color="gray", label="perfect calibration")
    axes.bar(left, acc, width=width, align="edge", color="#90caf9", edgecolor="#1565c0", label="accuracy")
    # The gap stands on the bar's right third, from accuracy to mean confidence, so both stay visible.
    gap_x = left + 0.8 * width
    axes.vlines(gap_x, acc, conf, colors="#c62828", linewidth=2.5, label="gap")
    axes.hlines(
        conf, left + 0.6 * width, left + width, colors="black", linewidth=1.5, label="mean confidence"
    )
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.set_ylabel("accuracy")
    axes.tick_params(labelbottom=False)
    axes.legend(loc="upper left", fontsize="small")

    hist.set_label("confidence histogram")
    hist.bar(
        edges[:-1],
        bins.count.numpy(),
        width=np.diff(edges),
        align="edge",
        color="#bdbdbd",
        edgecolor="#616161",
        label="confidence histogram",
    )
    hist.set_xlim(0, 1)
    hist.set_xlabel("confidence")
    hist.set_ylabel("count")
    hist.set_ylim(0, max(1.0, float(bins.count.max())) * 1.1)

    ece_text = f"ECE = {format_ece(bins.calibration_error('l1'))}"
    axes.set_title(ece_text if title is None else f"{title} ({ece_text})")
    return axes if fig is None else fig


def _series(name: str, histories: Any, metric: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and std over seeds of ``metric`` at each number of labels."""
    if isinstance(histories, Sequence) and histories and isinstance(histories[0], Mapping):
        histories = [histories]  # a single history for this name
    if not isinstance(histories, Sequence) or isinstance(histories, str) or not histories:
        raise ValueError(
            f"runs[{name!r}] must be a non-empty list of histories (one per seed), got {describe(histories)}."
        )
    per_seed: list[dict[int, float]] = []
    for seed, history in enumerate(histories):
        points: dict[int, float] = {}
        for step, record in enumerate(history):
            if not isinstance(record, Mapping):
                raise ValueError(
                    f"runs[{name!r}][{seed}][{step}] must be a dict record, got {describe(record)}."
                )
            for key in ("num_labeled", metric):
                if key not in record:
                    raise KeyError(
                        f"runs[{name!r}][{seed}][{step}] has no {key!r}; its keys are {sorted(record)}."
                    )
            points[int(record["num_labeled"])] = float(record[metric])
        per_seed.append(points)
    xs = np.array(sorted(set().union(*per_seed)), dtype=np.int64)
    if xs.size == 0:
        raise ValueError(f"runs[{name!r}] holds no records.")
    means, stds = [], []
    for x in xs:
        values = np.array([points[x] for points in per_seed if x in points])
        means.append(values.mean())
        stds.append(values.std())  # population std (ddof=0): defined for a single seed too
    return xs, np.array(means), np.array(stds)


def learning_curves(
    runs: Mapping[str, Sequence[Sequence[Mapping[str, Any]]]],
    metric: str = "accuracy",
    ax: Axes | None = None,
    *,
    title: str | None = None,
) -> Figure | Axes:
    """Mean ± std over seeds of a metric against the number of labels, one line per run name.

    Parameters
    ----------
    runs : mapping of str to list of histories
        ``name -> [history_seed0, history_seed1, ...]``; each history is a list of dict records with at least
        ``"num_labeled"`` and ``metric`` (the :class:`~alnb.learner.ActiveLearner` history format). A single
        history (a list of dicts) is accepted as one seed. Seeds are aligned on ``num_labeled``; a point
        averages the seeds that have it.
    metric : str
        Record key to plot.
    ax : Axes, optional
        Draw here; otherwise a new figure is made.
    title : str, optional
        Axes title.

    Returns
    -------
    Figure or Axes
        The new figure when ``ax`` is None, else ``ax``. Each name gives a line (label = name) at the means
        and a shaded band at mean ± population std (ddof=0).

    Examples
    --------
    >>> runs = {"entropy": [[{"num_labeled": 10, "accuracy": 0.5}, {"num_labeled": 20, "accuracy": 0.7}],
    ...                     [{"num_labeled": 10, "accuracy": 0.6}, {"num_labeled": 20, "accuracy": 0.9}]]}
    >>> fig = learning_curves(runs)
    >>> [round(float(y), 2) for y in fig.axes[0].get_lines()[0].get_ydata()]
    [0.55, 0.8]
    """
    if not isinstance(runs, Mapping) or not runs:
        raise ValueError(
            f"runs must be a non-empty mapping of name to list of histories, got {describe(runs)}."
        )
    if not isinstance(metric, str) or not metric:
        raise ValueError(f"metric must be a record key (non-empty string), got {metric!r}.")
    series = {str(name): _series(str(name), histories, metric) for name, histories in runs.items()}
    fig, axes = _target(ax, (6.0, 4.0))
    for name, (xs, mean, std) in series.items():
        (line,) = axes.plot(xs, mean, marker="o", label=name)
        axes.fill_between(xs, mean - std, mean + std, color=line.get_color(), alpha=0.2, linewidth=0)
    axes.set_xlabel("number of labels")
    axes.set_ylabel(metric)
    axes.grid(alpha=0.3)
    axes.legend()
    if title is not None:
        axes.set_title(title)
    return axes if fig is None else fig


def class_histogram(
    counts: Any,
    class_names: Sequence[str],
    ax: Axes | None = None,
    *,
    title: str | None = None,
) -> Figure | Axes:
    """Bar chart of a count per class (e.g. labels per class after an active-learning round).

    Parameters
    ----------
    counts : array-like of non-negative numbers, shape (C,)
        Count of each class.
    class_names : sequence of str, length C
        Name of each class (x tick labels).
    ax : Axes, optional
        Draw here; otherwise a new figure is made.
    title : str, optional
        Axes title.

    Returns
    -------
    Figure or Axes
        The new figure when ``ax`` is None, else ``ax``; the bars carry the label ``"count"`` and each bar is
        annotated with its count. With more than 8 classes or a name longer than 6 characters the bars are
        horizontal (first class on top), so every name reads upright in full.

    Examples
    --------
    >>> fig = class_histogram([3, 0, 5], ["cat", "dog", "owl"])
    >>> [float(bar.get_height()) for bar in fig.axes[0].patches]
    [3.0, 0.0, 5.0]
    """
    try:
        values = np.asarray(counts, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"counts must be a 1-D array of numbers, got {describe(counts)}.") from err
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"counts must be a non-empty 1-D array of numbers, got {describe(counts)}.")
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ValueError(f"counts must be finite and non-negative, got {values.tolist()[:10]}.")
    names = [str(n) for n in class_names]
    if len(names) != len(values):
        raise ValueError(
            f"class_names has {len(names)} entries but counts has {len(values)}; expected one name per count."
        )
    # Long or many names read badly as rotated x ticks: then the bars lie down and the names stand upright.
    horizontal = len(names) > 8 or max(len(n) for n in names) > 6
    if horizontal:
        fig, axes = _target(ax, (5.0, max(2.5, 0.3 * len(values) + 1.0)))
        positions = np.arange(len(values))[::-1]  # the first class on top
        bars = axes.barh(positions, values, color="tab:blue", label="count")
        axes.set_yticks(positions, names)
        axes.set_xlabel("count")
        axes.set_xlim(0, max(float(values.max()), 1.0) * 1.15)  # room for the annotations
    else:
        fig, axes = _target(ax, (max(4.0, 0.35 * len(values) + 1.5), 3.5))
        positions = np.arange(len(values))
        bars = axes.bar(positions, values, color="tab:blue", label="count")
        axes.set_xticks(positions, names)
        axes.set_ylabel("count")
        axes.set_ylim(0, max(float(values.max()), 1.0) * 1.15)  # room for the annotations
    axes.bar_label(bars, fmt="%g", fontsize=8)
    if title is not None:
        axes.set_title(title)
    return axes if fig is None else fig
