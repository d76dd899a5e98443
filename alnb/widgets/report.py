"""What a round changed: reliability diagram, learning curves and the classes that were queried."""

from __future__ import annotations

import html
import io
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import ipywidgets as w
import numpy as np
from IPython.display import Image as DisplayImage
from matplotlib.figure import Figure

from alnb.plots import class_histogram, format_ece, learning_curves, reliability_diagram
from alnb.widgets.labeling import check_display_names

__all__ = ["RoundReport"]


def _check_history(history: Any) -> list[Mapping[str, Any]]:
    if isinstance(history, (str, bytes)) or not isinstance(history, Sequence):
        raise ValueError(f"history must be a list of round records (dicts), got {type(history).__name__}.")
    for i, record in enumerate(history):
        if not isinstance(record, Mapping) or "num_labeled" not in record:
            raise ValueError(f"history[{i}] must be a dict with at least 'num_labeled', got {record!r:.120}.")
    return list(history)


def _load_runs(name: str, runs: Any) -> Any:
    """``runs`` as given, or the history in an earlier session's folder (``learner.json``) or file."""
    if isinstance(runs, (str, os.PathLike)):
        path = Path(runs)
        path = path / "learner.json" if path.is_dir() else path
        if not path.is_file():
            raise ValueError(
                f"baselines[{name!r}] = {str(runs)!r} is neither a session folder (with learner.json) nor a "
                "JSON file of a history."
            )
        data = json.loads(path.read_text(encoding="utf-8"))
        return data["history"] if isinstance(data, dict) and "history" in data else data
    return runs


def _has_metric(history: Sequence[Mapping[str, Any]], metric: str) -> bool:
    return bool(history) and all(
        isinstance(r.get(metric), (int, float)) and math.isfinite(float(r[metric])) for r in history
    )


class RoundReport(w.VBox):
    """A summary line and one figure that :meth:`update` redraws after every round.

    The figure has four panels: the reliability diagram of the current model on the test set, the learning
    curves of accuracy and ECE against the number of labels (this session's history, next to earlier runs
    passed as ``baselines``), and a histogram of the classes queried so far. A panel without data (no test
    set, no round yet) says so instead.

    The figure is a :class:`matplotlib.figure.Figure` built without pyplot, rendered once to PNG and appended
    to an ``ipywidgets.Output``, so it is never displayed twice and no pyplot figure is left open.

    Parameters
    ----------
    class_names : sequence of str
        Class names (histogram ticks).
    baselines : mapping of str to list of histories, optional
        Earlier runs to compare with, in :func:`alnb.plots.learning_curves`'s ``runs`` format
        (``name -> [history_seed0, ...]``, or a single history), or the folder of an earlier session (its
        ``learner.json`` history is read).
    name : str
        Legend name of this session's curve.
    n_bins : int
        Bins of the reliability diagram; the default matches :func:`alnb.metrics.evaluate`, so the ECE in the
        diagram's title equals the ECE in the learner's history.
    figsize : (float, float)
        Figure size in inches.
    dpi : int
        Resolution of the rendered PNG.

    Examples
    --------
    >>> report = RoundReport(["cat", "dog"])
    >>> report.update([{"round": 0, "num_labeled": 2, "accuracy": 0.5, "ece": 0.2,
    ...                 "queried_class_histogram": [1, 1]}])
    >>> report.summary.value
    '<b class="alnb-summary">After round 0: 2 labels · accuracy 0.500 · ECE 0.2000</b>'
    """

    def __init__(
        self,
        class_names: Sequence[str],
        *,
        baselines: Mapping[str, Any] | None = None,
        name: str = "this session",
        n_bins: int = 15,
        figsize: tuple[float, float] = (10.0, 7.0),
        dpi: int = 80,
    ) -> None:
        super().__init__()
        self._class_names = check_display_names(class_names)
        if baselines is not None and not isinstance(baselines, Mapping):
            raise ValueError(
                f"baselines must be a mapping of run name to histories, got {type(baselines).__name__}."
            )
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"name must be a non-empty string, got {name!r}.")
        if baselines is not None and name in baselines:
            raise ValueError(
                f"name={name!r} is also a key of baselines {list(baselines)}; pick another name."
            )
        if isinstance(n_bins, bool) or not isinstance(n_bins, int) or n_bins < 1:
            raise ValueError(f"n_bins must be a positive integer, got {n_bins!r}.")
        if isinstance(dpi, bool) or not isinstance(dpi, int) or not 20 <= dpi <= 400:
            raise ValueError(f"dpi must be an integer in [20, 400], got {dpi!r}.")
        self.baselines = {name: _load_runs(name, runs) for name, runs in (baselines or {}).items()}
        self.name = name
        self.n_bins = n_bins
        self.figsize = (float(figsize[0]), float(figsize[1]))
        self.dpi = dpi
        self.summary = w.HTML(
            "<i>No round finished yet: the report appears after the first submitted batch.</i>"
        )
        self.output = w.Output()
        #: The last figure drawn (kept for inspection; it is not attached to pyplot).
        self.figure: Figure | None = None
        #: PNG bytes of the last figure.
        self.png: bytes | None = None
        #: The audit estimate shown with the report (:meth:`set_audit`).
        self.audit: Any = None
        self.audit_curve: list[tuple[Any, ...]] = []
        self.add_class("alnb-report")
        self.children = [self.summary, self.output]

    @property
    def class_names(self) -> tuple[str, ...]:
        return self._class_names

    def set_audit(self, audit: Any, curve: Sequence[tuple[int, float, float, float]] = ()) -> None:
        """Show ``audit`` (an :class:`alnb.audit.AuditEstimate`) with the next :meth:`update`: in the summary
        line, and in the reliability panel when there is no test set. ``curve`` holds per-round audit points
        ``(labels the model had, accuracy, low, high)``, drawn as the accuracy curve when there is no test set."""
        self.audit = audit
        self.audit_curve = [tuple(p) for p in curve]

    def update(self, history: Sequence[Mapping[str, Any]], probs: Any = None, labels: Any = None) -> None:
        """Redraw the report for ``history`` (the learner's) and, when given, test-set ``probs`` / ``labels``.

        Parameters
        ----------
        history : list of dict
            :attr:`alnb.ActiveLearner.history`; records need ``num_labeled`` and, for the curves, ``accuracy``
            and ``ece``; ``queried_class_histogram`` feeds the class histogram.
        probs : array-like, shape (N, C), optional
            Test-set probabilities of the current model (reliability diagram).
        labels : array-like of int, shape (N,), optional
            Test-set labels.
        """
        history = _check_history(history)
        if (probs is None) != (labels is None):
            raise ValueError("probs and labels must be given together (both or neither).")
        self.summary.value = self._summary(history)
        fig = Figure(figsize=self.figsize, dpi=self.dpi, layout="constrained")
        axes = fig.subplots(2, 2)
        if probs is not None:
            reliability_diagram(probs, labels, n_bins=self.n_bins, ax=axes[0, 0], title="test set")
        elif self.audit is not None and self.audit.accuracy is not None:
            a, e = self.audit.accuracy, self.audit.ece
            self._empty(
                axes[0, 0],
                f"no test set; audit estimate from\n{self.audit.n} images drawn at random:\n\n"
                f"accuracy {a.estimate:.2f}  [{a.low:.2f}, {a.high:.2f}]\n(Wilson {a.level:.0%} interval)\n\n"
                f"ECE {e.estimate:.3f}  [{e.low:.3f}, {e.high:.3f}]\n(bootstrap {e.level:.0%} interval)",
            )
        else:
            self._empty(axes[0, 0], "reliability diagram:\nno test set")
        runs = {**self.baselines, self.name: history}
        for ax, metric, label in ((axes[0, 1], "accuracy", "accuracy"), (axes[1, 0], "ece", "ECE")):
            if _has_metric(history, metric):
                learning_curves(runs, metric, ax=ax, title=f"{label} vs number of labels")
                # A zero floor keeps rounds comparable by eye; accuracy also gets its natural ceiling.
                # dataLim covers every run drawn (baselines and their bands too).
                ax.set_ylim(0.0, 1.0 if metric == "accuracy" else max(0.05, 1.15 * float(ax.dataLim.y1)))
            elif metric == "accuracy" and self.audit_curve:
                xs, ys, lows, highs = (np.asarray(v, dtype=np.float64) for v in zip(*self.audit_curve))
                ax.errorbar(
                    xs, ys, yerr=[ys - lows, highs - ys], marker="o", capsize=3, label="audit (Wilson 95%)"
                )
                ax.set_xlabel("number of labels (of the model that was audited)")
                ax.set_ylabel("accuracy")
                ax.set_ylim(0.0, 1.0)
                ax.grid(alpha=0.3)
                ax.legend()
                ax.set_title("accuracy on the audit images, per round")
            elif self.audit is not None and self.audit.accuracy is not None:
                self._empty(ax, f"{label} curve: no test set\n(the audit estimate is in the first panel)")
            else:
                self._empty(ax, f"{label} curve:\nno test metrics yet")
        counts = np.zeros(len(self._class_names), dtype=np.int64)
        for record in history:
            hist = record.get("queried_class_histogram")
            if hist is not None:
                counts += np.asarray(hist, dtype=np.int64)
        last = int(history[-1].get("round", len(history) - 1)) if history else -1
        rounds = "no round yet" if last < 0 else "round 0" if last == 0 else f"rounds 0–{last}"
        class_histogram(counts, self._class_names, ax=axes[1, 1], title=f"classes queried ({rounds})")
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=self.dpi)
        self.figure = fig
        self.png = buffer.getvalue()
        # Replace (not append to) the output: one figure per report, whatever the number of rounds.
        self.output.outputs = ()
        self.output.append_display_data(DisplayImage(data=self.png, format="png"))

    def _summary(self, history: Sequence[Mapping[str, Any]]) -> str:
        if not history:
            return "<i>No round finished yet.</i>"
        last = history[-1]
        parts = [f"After round {int(last.get('round', len(history) - 1))}: {int(last['num_labeled'])} labels"]
        if _has_metric([last], "accuracy"):
            parts.append(f"accuracy {float(last['accuracy']):.3f}")
        if _has_metric([last], "ece"):
            parts.append(f"ECE {format_ece(float(last['ece']))}")
        text = f'<b class="alnb-summary">{html.escape(" · ".join(parts))}</b>'
        if self.audit is not None and self.audit.accuracy is not None:
            text += (
                '<br><span class="alnb-audit-summary">Audit estimate (no test set needed): '
                f"{html.escape(self.audit.describe())}</span>"
            )
        return text

    @staticmethod
    def _empty(ax: Any, text: str) -> None:
        ax.set_axis_off()
        ax.text(0.5, 0.5, text, ha="center", va="center", color="gray", transform=ax.transAxes)
