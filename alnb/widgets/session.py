"""One widget for a whole active-learning session: label a batch, submit, retrain, read the report, repeat."""

from __future__ import annotations

import html
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import ipywidgets as w

from alnb.errors import PoolExhaustedError
from alnb.learner import ActiveLearner, Query
from alnb.widgets.labeling import Batch, LabelingWidget
from alnb.widgets.report import RoundReport

__all__ = ["ActiveLearningSession"]

_log = logging.getLogger(__name__)


class ActiveLearningSession(w.VBox):
    """Label → submit → retrain → report → next batch, in one widget, resumable after a kernel restart.

    The session shows a :class:`LabelingWidget` for the learner's current query and a :class:`RoundReport`
    below it. *Submit batch* trains the classifier on every label so far (``learner.fit``), scores the test
    set, closes the round (``learner.end_round``), saves the learner, redraws the report and shows the next
    query. When the budget is spent or a stopping criterion fires, the session says why and stops asking.

    Training runs synchronously inside the submit callback, on purpose. Before it starts, the buttons are
    disabled and the status line says "Training…"; ipywidgets sends those state changes to the browser at
    once, so the person sees them while the kernel trains. A background thread would keep the kernel free
    during training, but it brings no benefit a person can use here (the next batch depends on the new
    model) and real costs: widget updates and torch work from a second thread race with cells the person
    runs meanwhile, an ``Output`` widget captures the wrong thread's output, and errors get lost. With the
    synchronous design a click made during training cannot reach stale state (the buttons are disabled in
    the browser) and every error lands on the widget's error line with the labels safe on disk. Keep
    training short for an interactive session (a few epochs; the CoOp adapter caches image features).

    Persistence: every click is in the pool's label file at once; with ``save_dir`` the learner (settings,
    adapter weights, history and the pending query) is saved after each round and after each new query.
    After a restart, :meth:`resume` shows the pending query with the labels already given.

    Parameters
    ----------
    learner : ActiveLearner
        The learner; with ``save_dir`` its pool must be backed by a label file (``Pool.from_file``).
    save_dir : str or Path, optional
        Folder for ``learner.save``; ``None`` keeps the session in memory (nothing to resume).
    image_column : str
        Image column of the pool's dataset.
    annotator : str
        Recorded with every label.
    baselines : mapping, optional
        Earlier runs for the learning curves (see :class:`RoundReport`).
    tile_size, columns : int
        Passed to :class:`LabelingWidget`.

    Raises
    ------
    ValueError
        When the pool has nothing to label at all, or ``save_dir`` is given for an in-memory label store.

    Examples
    --------
    In a notebook cell (``notebooks/02_label_your_own_images.ipynb`` runs this end to end)::

        session = ActiveLearningSession(learner, save_dir="runs/my_labels")
        session  # the last expression of a cell displays the widget

        # after a kernel restart:
        session = ActiveLearningSession.resume("runs/my_labels", dataset, test=test)
    """

    def __init__(
        self,
        learner: ActiveLearner,
        save_dir: str | os.PathLike[str] | None = None,
        image_column: str = "image",
        *,
        annotator: str = "human",
        baselines: Mapping[str, Any] | None = None,
        tile_size: int = 96,
        columns: int = 5,
    ) -> None:
        super().__init__()
        if not isinstance(learner, ActiveLearner):
            raise ValueError(f"learner must be an alnb ActiveLearner, got {type(learner).__name__}.")
        if save_dir is not None and learner.pool.store.path is None:
            raise ValueError(
                f"save_dir={str(save_dir)!r} was given, but the pool's labels live in memory only; build "
                "the pool with Pool.from_file(path, dataset, class_names) so every click is on disk and the "
                "session can resume."
            )
        if learner.num_labeled == 0 and learner.remaining_budget == 0:
            raise PoolExhaustedError(
                f"the pool has no unlabeled items to query (pool size {len(learner.pool)}, "
                f"{len(learner.pool.skipped)} skipped); nothing to label."
            )
        self.learner = learner
        self.save_dir = None if save_dir is None else Path(save_dir)
        self.image_column = image_column
        self._options: dict[str, Any] = {
            "image_column": image_column,
            "budget": learner.budget,
            "annotator": annotator,
            "tile_size": tile_size,
            "columns": columns,
        }
        self.header = w.HTML()
        self.status = w.HTML()
        self.status.add_class("alnb-session-status")
        self.error = w.HTML()
        self.report = RoundReport(learner.pool.class_names, baselines=baselines)
        self.labeling: LabelingWidget | None = None
        self._stop_reason: str | None = None
        self.add_class("alnb-session")
        self.children = [self.header, self.status, self.error, self.report]
        self._update_header()
        if learner.history:
            self._redraw_report()
        query = self._pending_query()  # after a resume: the batch the person was labeling
        if query is None:
            reason = learner.check_stopping()
            if reason is not None:
                self._finish(reason)
                return
            query = learner.query()
            self._save()
        self.labeling = LabelingWidget(learner.pool, query, on_submit=self._on_submit, **self._options)
        self.children = [self.header, self.labeling, self.status, self.error, self.report]

    # ------------------------------------------------------------------ public

    @classmethod
    def resume(
        cls,
        save_dir: str | os.PathLike[str],
        dataset: Any,
        *,
        test: Any = None,
        classifier: Any = None,
        **options: Any,
    ) -> ActiveLearningSession:
        """Reopen a session saved in ``save_dir``: the pending query with the labels already given.

        Parameters
        ----------
        save_dir : str or Path
            The folder given to the first session.
        dataset : datasets.Dataset
            The same pool dataset as before (its fingerprint is checked against the label file).
        test : datasets.Dataset, optional
            The test set, for the report's metrics.
        classifier : Classifier, optional
            Passed to :meth:`ActiveLearner.load` (default: rebuilt from the saved spec).
        **options
            Other :class:`ActiveLearningSession` arguments (``image_column``, ``annotator``, ...).
        """
        learner = ActiveLearner.load(save_dir, dataset, test=test, classifier=classifier)
        return cls(learner, save_dir=save_dir, **options)

    @property
    def query(self) -> Query | None:
        """The query shown now (``None`` once the session is finished)."""
        return None if self.labeling is None or self.finished else self.labeling.query

    @property
    def finished(self) -> bool:
        """True when the session stopped asking (budget spent or a stopping criterion)."""
        return self._stop_reason is not None

    @property
    def stop_reason(self) -> str | None:
        return self._stop_reason

    def next_batch(self) -> Query | None:
        """Query and show the next batch (used after a round; call it by hand to retry after an error)."""
        reason = self.learner.check_stopping()
        if reason is not None:
            self._finish(reason)
            return None
        query = self.learner.query()
        self._save()
        if self.labeling is None:  # pragma: no cover - a labeling widget exists unless finished at start
            self.labeling = LabelingWidget(
                self.learner.pool, query, on_submit=self._on_submit, **self._options
            )
        else:
            self.labeling.set_query(query)
        self.status.value = ""
        self._update_header()
        return query

    # ------------------------------------------------------------------ internals

    def _pending_query(self) -> Query | None:
        """The saved query still to label, when it fits the pool (after a resume)."""
        pending = self.learner.pending
        if pending is None or len(pending) == 0:
            return None
        if any(int(i) not in self.learner.pool for i in pending.indices):
            _log.warning("the saved pending query does not fit the pool; asking a new one")
            return None
        return pending

    def _on_submit(self, batch: Batch) -> None:
        learner = self.learner
        if learner.num_labeled == 0:
            raise ValueError("Nothing is labeled yet: label at least one image before submitting the batch.")
        assert self.labeling is not None
        self.error.value = ""
        self.labeling.set_busy(
            True,
            f"Training on {learner.num_labeled} labels… the next batch appears when it is done "
            f"({len(batch.labeled)} labeled, {len(batch.skipped)} skipped in this batch).",
        )
        self.status.value = "<b class='alnb-training'>Training…</b>"
        try:
            learner.fit()
        except Exception:
            self.status.value = ""
            raise  # the labeling widget shows the error and brings its buttons back; the labels are on disk
        try:
            metrics, probs, labels = self._evaluate()
            learner.end_round(metrics)
            self._save()
            self.report.update(learner.history, probs, labels)
            self.next_batch()
        # After fit the round may already be closed: say how to continue instead of re-enabling the buttons.
        except Exception as err:
            _log.exception("alnb session: finishing the round failed")
            message = f"Finishing the round failed ({type(err).__name__}: {err}). Labels are saved; " + (
                "call session.next_batch() to continue."
            )
            self.status.value = ""
            self.error.value = (
                f"<span class='alnb-error' style='color:#b00020'>⚠ {html.escape(message)}</span>"
            )
            self.labeling.set_busy(True, "Stopped by an error; see below.")

    def _evaluate(self) -> tuple[dict[str, float], Any, Any]:
        """Test metrics and the probabilities behind them, from one prediction pass (none without test)."""
        learner = self.learner
        if learner.test is None:
            return {}, None, None
        metrics = learner.evaluate()
        probs = learner.last_test_predictions.probs.detach().cpu().numpy()
        return metrics, probs, learner.test_labels.numpy()

    def _redraw_report(self) -> None:
        _, probs, labels = self._evaluate()
        self.report.update(self.learner.history, probs, labels)

    def _save(self) -> None:
        if self.save_dir is not None:
            self.learner.save(self.save_dir)

    def _finish(self, reason: str) -> None:
        self._stop_reason = reason
        learner = self.learner
        if self.labeling is not None:
            self.labeling.set_busy(True, "")
        where = learner.pool.store.path
        saved = f" Labels are in {where}." if where is not None else ""
        self.status.value = (
            "<b class='alnb-done'>"
            + html.escape(
                f"Done: {reason} after {learner.round} rounds ({learner.num_labeled} labels).{saved} "
                "Export them with pool.store.to_csv(...) or pool.store.to_dataset(...)."
            )
            + "</b>"
        )
        self._update_header()

    def _update_header(self) -> None:
        learner = self.learner
        budget = "no budget" if learner.budget is None else f"budget {learner.budget}"
        # Label counts live in the labeling widget's progress line, which follows every click.
        self.header.value = html.escape(
            f"Active learning with {learner.strategy.name}: {learner.round} rounds done, {budget}"
        )
