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

    Draws, for every non-empty bin, a bar of its accuracy (label ``"accuracy"``) and a red hatched bar from
    the accuracy to the mean confidence (label ``"gap"``); the diagonal of perfect calibration; and, on a twin
    axis, a small step histogram of the share of samples in every bin (label ``"confidence histogram"``).
    The title holds the ECE (l1 over these bins, formatted by :func:`format_ece`).

    Parameters
    ----------
    probs : Tensor or ndarray, shape (N, C) or (N, C, K)
        Class probabilities (K samples are averaged first).
    labels : Tensor or ndarray of int, shape (N,)
        True classes.
    n_bins : int
        Number of bins.
    ax : Axes, optional
        Draw here; otherwise a new figure is made.
    binning : {"uniform", "quantile"}
        Equal-width or equal-mass bins.
    title : str, optional
        Text placed before the ECE in the title.

    Returns
    -------
    Figure or Axes
        The new figure when ``ax`` is None, else ``ax``.

    Examples
    --------
    >>> import numpy as np
    >>> probs = np.array([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.8, 0.2]])
    >>> fig = reliability_diagram(probs, np.array([0, 1, 1, 1]), n_bins=2)
    >>> fig.axes[0].get_title()
    'ECE = 0.2500'
    """
    bins = calibration_bins(probs, labels, n_bins=n_bins, binning=binning)
    fig, axes = _target(ax, (5.0, 5.0))
    edges = bins.edges.numpy()
    filled = bins.count.numpy() > 0
    left = edges[:-1][filled]
    width = np.diff(edges)[filled]
    acc = bins.accuracy.numpy()[filled]
    conf = bins.confidence.numpy()[filled]
    share = bins.weight.numpy()[filled]

    axes.bar(left, acc, width=width, align="edge", color="tab:blue", edgecolor="black", label="accuracy")
    axes.bar(
        left,
        conf - acc,
        width=width,
        bottom=acc,
        align="edge",
        color="tab:red",
        alpha=0.3,
        edgecolor="tab:red",
        hatch="//",
        label="gap",
    )
    axes.plot([0, 1], [0, 1], linestyle="--", color="gray", label="perfect calibration")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1)
    axes.set_xlabel("confidence")
    axes.set_ylabel("accuracy")

    hist = axes.twinx()
    hist.set_label("confidence histogram")
    # An outline drawn on top and scaled to the bottom quarter stays readable over the accuracy bars.
    hist.stairs(bins.weight.numpy(), edges, color="black", linewidth=1.5, label="confidence histogram")
    hist.set_ylim(0, float(share.max()) * 4)
    hist.set_ylabel("share of samples")
    handles, names = axes.get_legend_handles_labels()
    hist_handles, hist_names = hist.get_legend_handles_labels()
    axes.legend(handles + hist_handles, names + hist_names, loc="upper left", fontsize="small")

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
        annotated with its count.

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
    fig, axes = _target(ax, (max(4.0, 0.35 * len(values) + 1.5), 3.5))
    positions = np.arange(len(values))
    bars = axes.bar(positions, values, color="tab:blue", label="count")
    axes.bar_label(bars, fmt="%g", fontsize=8)
    axes.set_xticks(
        positions, names, rotation=45 if len(names) > 8 else 0, ha="right" if len(names) > 8 else "center"
    )
    axes.set_ylabel("count")
    axes.set_ylim(0, max(float(values.max()), 1.0) * 1.15)  # room for the annotations
    if title is not None:
        axes.set_title(title)
    return axes if fig is None else fig
