"""One widget for a whole active-learning session: label a batch, submit, retrain in the background, read the
report, repeat."""

from __future__ import annotations

import dataclasses
import html
import logging
import math
import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import ipywidgets as w
import numpy as np

from alnb._validation import check_fraction, check_positive_int
from alnb.audit import AuditItem, AuditLog, audit_size, draw_audit, estimate
from alnb.errors import PoolExhaustedError
from alnb.learner import ActiveLearner, Query
from alnb.store import LabelStore
from alnb.widgets.labeling import Batch, LabelingController, LabelingWidget
from alnb.widgets.report import RoundReport

__all__ = ["ActiveLearningSession", "FitCancelled"]

_log = logging.getLogger(__name__)
_AUDIT_FILE = "audit.json"
_HOLDING_FILE = "labels-while-training.jsonl"


class FitCancelled(RuntimeError):
    """Raised inside a fit when the person pressed *Cancel fit*; the round stays open, no label is lost."""


def _human_labels(store: LabelStore) -> dict[int, int]:
    """Labels a person gave (pseudo-labels left out where the store has them): what grades the model."""
    human = getattr(store, "human_labels", None)
    return dict(human) if human is not None else store.labels


class ActiveLearningSession(w.VBox):
    """Label → submit → retrain (in the background) → report → next batch, in one widget, resumable.

    Build it, then call :meth:`start` (it asks the first batch, or shows the pending one after a restart, and
    saves); ``__init__`` only stores its parameters and lays out the widget.

    Submitting a batch starts a **background thread** that scores the pool with the current model (the next
    batch, shown at once so the person can keep labeling), trains on every label so far with a progress bar,
    scores the test set when there is one, closes the round, saves, and then shows the batch of the new model
    (or keeps the one the person already started). The kernel stays free meanwhile: other cells run, and
    *Cancel fit* stops the training at its next step (the round stays open). Labels given while the model
    trains are written at once to a holding label file next to the session (``labels-while-training.jsonl``)
    and moved into the pool when the round closes, so the model being trained, its history and the next
    round stay consistent; after a crash they are moved on the next :meth:`start`. Every label given before
    submit is in the label file before the fit starts, so nothing clicked is lost if the fit fails or the
    kernel dies mid-fit.

    Audit estimate: ``audit_share`` of every batch is drawn uniformly at random from the unlabeled pool
    (seeded, marked *audit* on its tiles, recorded in ``audit.json``), and the report estimates accuracy and
    ECE from them with confidence intervals (:mod:`alnb.audit`: Wilson for accuracy, percentile bootstrap for
    ECE), so a person without a test set still sees how good the model is. With a test set the report shows
    the test metrics as before, and the audit line too.

    Parameters
    ----------
    learner : ActiveLearner
        The learner; with ``save_dir`` its pool must be backed by a label file (``Pool.from_file``).
    save_dir : str or Path, optional
        Folder for ``learner.save``, the audit file and the holding file; ``None`` keeps the session in memory.
    image_column : str, optional
        Image column of the pool's dataset; default (and the only value accepted): ``learner.pool.image_column``,
        the one setting of the data layout.
    annotator : str
        Recorded with every label.
    baselines : mapping, optional
        Earlier runs for the learning curves (see :class:`RoundReport`; a value may be an earlier session's
        folder).
    tile_size, columns : int, optional
        Passed to :class:`LabelingWidget` (``None``: follow the images / fill the width).
    batch_size : int, optional
        Images per batch, adjustable live in the widget; default ``max(learner.query_size, 10)`` capped at 20.
    audit_share : float
        Share of each batch drawn at random for the audit estimate (0 turns it off).
    background : bool
        Train in a background thread (``False``: inside the submit handler, e.g. for scripts).
    keyboard : bool
        Keyboard shortcuts (see :class:`LabelingWidget`).

    Examples
    --------
    In a notebook cell (``notebooks/02_label_your_own_images.ipynb`` runs this end to end)::

        session = ActiveLearningSession(learner, save_dir="alnb-session").start()
        session  # the last expression of a cell displays the widget

        # after a kernel restart:
        session = ActiveLearningSession.resume("alnb-session", dataset)
    """

    def __init__(
        self,
        learner: ActiveLearner,
        save_dir: str | os.PathLike[str] | None = None,
        image_column: str | None = None,
        *,
        annotator: str = "human",
        baselines: Mapping[str, Any] | None = None,
        tile_size: int | None = None,
        columns: int | None = None,
        batch_size: int | None = None,
        audit_share: float = 0.15,
        background: bool = True,
        keyboard: bool = True,
    ) -> None:
        super().__init__()
        if not isinstance(learner, ActiveLearner):
            raise ValueError(f"learner must be an alnb ActiveLearner, got {type(learner).__name__}.")
        if save_dir is not None and learner.pool.store.path is None and learner.pool.store.url is None:
            raise ValueError(
                f"save_dir={str(save_dir)!r} was given, but the pool's labels live in memory only; build "
                "the pool with Pool.from_file(path, dataset, class_names) so every click is on disk and the "
                "session can resume."
            )
        if batch_size is None:
            batch_size = min(20, max(learner.query_size, 10))
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or not 1 <= batch_size <= 200:
            raise ValueError(f"batch_size must be an integer in [1, 200], got {batch_size!r}.")
        if image_column is None:
            image_column = learner.pool.image_column
        elif image_column != learner.pool.image_column:
            raise ValueError(
                f"image_column={image_column!r} differs from the pool's image_column="
                f"{learner.pool.image_column!r}; the pool owns the data layout: leave image_column out, or build "
                f"the pool with Pool(..., image_column={image_column!r})."
            )
        self.audit_share = check_fraction(audit_share, "audit_share")
        self.learner = learner
        self.save_dir = None if save_dir is None else Path(save_dir)
        self.image_column = image_column
        self.background = bool(background)
        self._options: dict[str, Any] = {
            "image_column": image_column,
            "budget": learner.budget,
            "annotator": annotator,
            "tile_size": tile_size,
            "columns": columns,
            "keyboard": keyboard,
        }
        self.annotator = annotator
        self.audit_log = AuditLog(None if self.save_dir is None else self.save_dir / _AUDIT_FILE)
        self.controller = LabelingController(learner.pool, annotator)
        # One lock for clicks (held by the controller) and the round's hand-over of held labels.
        self._lock = self.controller.lock
        self.header = w.HTML()
        self.batch_size = w.BoundedIntText(
            value=batch_size, min=1, max=200, description="batch size", layout=w.Layout(width="180px")
        )
        self.batch_size.add_class("alnb-batch-size")
        self.progress = w.FloatProgress(value=0.0, min=0.0, max=1.0, layout=w.Layout(width="240px"))
        self.progress.layout.visibility = "hidden"
        self.cancel_button = w.Button(description="Cancel fit", icon="stop", button_style="warning")
        self.cancel_button.layout.display = "none"
        self.cancel_button.on_click(lambda _b: self.cancel())
        self.status = w.HTML()
        self.status.add_class("alnb-session-status")
        self.error = w.HTML()
        self.audit_line = w.HTML()
        self.audit_line.add_class("alnb-audit")
        self.report = RoundReport(learner.pool.class_names, baselines=baselines)
        self.labeling: LabelingWidget | None = None
        #: One record per fit: start and end (``time.time()``), seconds, outcome; for people and benchmarks.
        self.fit_log: list[dict[str, Any]] = []
        self._stop_reason: str | None = None
        self._started = False
        self._thread: threading.Thread | None = None
        self._cancel = threading.Event()
        self._holding: LabelStore | None = None
        self._provisional: tuple[Query, list[AuditItem]] | None = None
        self.add_class("alnb-session")
        self._toolbar = w.HBox(
            [self.batch_size, self.progress, self.cancel_button], layout=w.Layout(align_items="center")
        )
        self.status.value = "<i>Call <code>session.start()</code> to show the first batch.</i>"
        self.children = [self.header, self._toolbar, self.status, self.error, self.report]
        self._update_header()

    # ------------------------------------------------------------------ public

    def start(self) -> ActiveLearningSession:
        """Show the batch to label: the pending one after a restart (labels already given kept), else a new
        query; saves the session. Labels left in a holding file by a crash mid-fit are moved into the pool
        first. Returns ``self`` (so ``ActiveLearningSession(...).start()`` displays in a cell)."""
        if self._started:
            return self
        learner = self.learner
        self._recover_holding()
        if learner.num_labeled == 0 and learner.remaining_budget == 0:
            raise PoolExhaustedError(
                f"the pool has no unlabeled items to query (pool size {len(learner.pool)}, "
                f"{len(learner.pool.skipped)} skipped); nothing to label."
            )
        self._started = True
        self.status.value = ""
        self._update_audit()
        if learner.history:
            self._redraw_report()
        pending = self._pending_query()  # after a resume: the batch the person was labeling
        if pending is None:
            reason = learner.check_stopping()
            if reason is not None:
                self._finish(reason)
                return self
            query, audit = self._ask()
            self._save()
        else:
            query, audit = pending, self.audit_log.indices(pending.round) & set(pending.indices.tolist())
        self.labeling = LabelingWidget(
            learner.pool,
            query,
            on_submit=self._on_submit,
            audit=audit,
            controller=self.controller,
            **self._options,
        )
        # The audit estimate is shown in the report's summary (``audit_line`` keeps the same text for code).
        self.children = [self.header, self._toolbar, self.labeling, self.status, self.error, self.report]
        self._update_header()
        self._update_audit()
        return self

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
        """Reopen a session saved in ``save_dir`` and :meth:`start` it: the pending query with its labels.

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
        learner = ActiveLearner.load(Path(save_dir), dataset, test=test, classifier=classifier)
        return cls(learner, save_dir=save_dir, **options).start()

    @property
    def query(self) -> Query | None:
        """The query shown now (``None`` once the session is finished or before :meth:`start`)."""
        return None if self.labeling is None or self.finished else self.labeling.query

    @property
    def finished(self) -> bool:
        """True when the session stopped asking (budget spent or a stopping criterion)."""
        return self._stop_reason is not None

    @property
    def stop_reason(self) -> str | None:
        return self._stop_reason

    @property
    def busy(self) -> bool:
        """True while a background round (scoring, fit, next query) runs."""
        return self._thread is not None and self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the background round is done (for scripts and tests; a person never needs it).

        Returns True when nothing is running any more.
        """
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return not self.busy

    def cancel(self) -> None:
        """Stop the running fit at its next training step; the round stays open and every label is kept."""
        if self.busy:
            self._cancel.set()
            self.status.value = "<b class='alnb-training'>Cancelling the fit…</b>"

    def next_batch(self) -> Query | None:
        """Query and show the next batch (call it by hand to retry after an error)."""
        reason = self.learner.check_stopping()
        if reason is not None:
            self._finish(reason)
            return None
        query, audit = self._ask()
        self._save()
        self._show(query, audit)
        return query

    def review_pseudo_labels(self, limit: int = 20) -> Query | None:
        """Show up to ``limit`` of the model's pseudo-labels as a batch to check (the tiles mark them).

        ``a`` (or *Accept guess*) confirms one as a person's label, a class key corrects it, ``Del`` (*Revert*)
        returns it to the unlabeled pool, ``Backspace`` undoes; *Submit* ends the review and brings back the
        batch that was shown, without training. Returns the review query, or ``None`` when there is no
        pseudo-label (or a round runs).
        """
        limit = check_positive_int(limit, "limit")
        store = self.learner.pool.store
        pseudo: dict[int, int] = dict(getattr(store, "pseudo_labels", {}))
        if self.labeling is None or self.busy or self.finished or not pseudo:
            why = "no pseudo-label to review" if not pseudo else "the session is busy or finished"
            self.status.value = html.escape(f"Nothing to review: {why}.")
            return None
        learner = self.learner
        indices = np.asarray(sorted(pseudo)[:limit], dtype=np.int64)
        predictions = learner.trainer.predict(learner.classifier, learner.pool.dataset, indices)
        probs = np.asarray(predictions.probs, dtype=np.float64)
        given = np.asarray([pseudo[int(i)] for i in indices], dtype=np.int64)
        review = Query(
            indices=indices,
            scores=np.full(len(indices), np.nan),
            predicted=given,
            confidence=probs[np.arange(len(indices)), given],
            round=learner.round,
            strategy="pseudo-label review",
        )
        back = (self.labeling.query, self.labeling.audit, self.labeling.on_submit)

        def done(_batch: Batch) -> None:
            assert self.labeling is not None
            self.labeling.on_submit = back[2]
            self.labeling.set_query(back[0], audit=back[1])
            self.status.value = html.escape("Review done; back to the batch.")

        self.labeling.on_submit = done
        self.labeling.set_query(review)
        self.status.value = html.escape(
            f"Reviewing {len(indices)} of {len(pseudo)} pseudo-labels: a confirms, a class key corrects, Del "
            "reverts; Submit ends the review (no training)."
        )
        return review

    def audit_estimate(self) -> Any:
        """The :class:`alnb.audit.AuditEstimate` from the audit items labeled so far."""
        store = self.learner.pool.store
        return estimate(self.audit_log.items(), _human_labels(store), skipped=store.skipped)

    # ------------------------------------------------------------------ asking

    def _k(self) -> int:
        return int(self.batch_size.value)

    def _ask(self, as_round: int | None = None) -> tuple[Query, frozenset[int]]:
        """Ask a batch (see :meth:`_draw`) and make it the pending query with its audit items recorded."""
        query, items = self._draw(as_round)
        self._commit(query, items)
        return query, frozenset(it.index for it in items)

    def _draw(self, as_round: int | None = None) -> tuple[Query, list[AuditItem]]:
        """The learner's query for ``k - audit`` items plus ``audit`` items drawn uniformly at random from the
        rest of the unlabeled pool, with the current model's predictions for the audit items (made before anyone
        labels them). ``as_round`` tags the batch with a later round (the batch offered while a model trains)."""
        learner = self.learner
        k = min(self._k(), learner.remaining_budget)
        n_audit = audit_size(k, self.audit_share)
        unlabeled = learner.pool.unlabeled
        n_audit = min(n_audit, max(0, len(unlabeled) - (k - n_audit)))
        query = learner.query(k - n_audit, annotator=self.annotator)
        round_ = query.round if as_round is None else int(as_round)
        if round_ != query.round:
            query = dataclasses.replace(query, round=round_)
        if n_audit == 0:
            return query, []
        candidates = np.setdiff1d(unlabeled, query.indices)
        store = learner.pool.store
        team = store.url is not None  # a shared store: audit items are leased like the query's
        if team:
            candidates = np.setdiff1d(candidates, sorted(store.leased_by_others()))
        audit = draw_audit(candidates, min(n_audit, len(candidates)), seed=learner.seed, round=round_)
        if team and len(audit):
            audit = np.asarray(store.lease(audit.tolist(), len(audit), annotator=self.annotator), dtype=np.int64)
        predictions = learner.trainer.predict(learner.classifier, learner.pool.dataset, audit)
        predicted = np.asarray(predictions.predicted, dtype=np.int64)
        confidence = np.asarray(predictions.confidence, dtype=np.float64)
        combined = Query(
            indices=np.concatenate([query.indices, audit]).astype(np.int64),
            scores=np.concatenate([query.scores, np.full(len(audit), np.nan)]),
            predicted=np.concatenate([query.predicted, predicted]).astype(np.int64),
            confidence=np.concatenate([query.confidence, confidence]),
            round=round_,
            strategy=query.strategy,
        )
        items = [AuditItem(int(i), round_, int(p), float(c)) for i, p, c in zip(audit, predicted, confidence)]
        return combined, items

    def _commit(self, query: Query, items: list[AuditItem]) -> None:
        self.learner.pending = query
        self.audit_log.set_round(query.round, items)

    def _pending_query(self) -> Query | None:
        """The saved query still to label, when it fits the pool (after a resume)."""
        pending = self.learner.pending
        if pending is None or len(pending) == 0:
            return None
        if any(int(i) not in self.learner.pool for i in pending.indices):
            _log.warning("the saved pending query does not fit the pool; asking a new one")
            return None
        return pending

    # ------------------------------------------------------------------ a round

    def _on_submit(self, batch: Batch) -> None:
        if self.busy:
            raise ValueError("The model is still training on the previous batch; wait for it or cancel it.")
        assert self.labeling is not None
        self.error.value = ""
        if len(batch.labeled) == 0:
            # Only skips: nothing new to learn from, so no retraining and no round is used.
            self.labeling.set_busy(True, "No new labels in this batch, so the model is not retrained.")
            self._run(self._requery_job)
            return
        self._cancel.clear()
        self._run(lambda: self._round_job(batch))

    def _run(self, job: Any) -> None:
        if not self.background:
            job()
            return
        self._thread = threading.Thread(target=job, name="alnb-session-round", daemon=True)
        self._thread.start()

    def _requery_job(self) -> None:
        try:
            self.next_batch()
            if self.labeling is not None and not self.finished:
                self.status.value = html.escape(
                    "No new labels in the last batch (only skips), so the model was not retrained; here is "
                    "a fresh batch from the same model."
                )
        except Exception as err:
            self._show_failure("Asking the next batch failed", err)

    def _round_job(self, batch: Batch) -> None:
        learner = self.learner
        labeling = self.labeling
        assert labeling is not None
        submitted = batch.query
        record: dict[str, Any] = {"start": time.time(), "labels": learner.num_labeled}
        self.fit_log.append(record)
        try:
            self._phase("Scoring the pool for the next batch…", 0.0)
            self._offer_provisional(submitted)
            learner.pending = submitted  # the round being closed is the submitted one
            self._phase(f"Training on {learner.num_labeled} labels…", 0.0)
            self._fit()
            self._phase("Scoring the test set…" if learner.test is not None else "Closing the round…", 1.0)
            metrics, probs, labels = self._evaluate()
            with self._lock:
                learner.end_round(metrics)
            record.update(end=time.time(), outcome="trained")
            self._update_header()
            self._save()
            self._update_audit()
            self.report.update(learner.history, probs, labels)
            self._after_round()
        except FitCancelled:
            record.update(end=time.time(), outcome="cancelled")
            learner.pending = submitted
            with self._lock:
                self._abandon_provisional()
                labeling.set_query(submitted, audit=batch.audit)
            self._phase(None)
            self.status.value = html.escape(
                "Fit cancelled: the round stays open and every label is kept; submit again to train."
            )
        except Exception as err:
            record.update(end=time.time(), outcome=f"failed: {type(err).__name__}")
            _log.exception("alnb session: the round failed")
            learner.pending = submitted
            with self._lock:
                self._abandon_provisional()
                labeling.set_query(submitted, audit=batch.audit)
            self._phase(None)
            self._show_failure("Training failed", err, retry=True)
        finally:
            record.setdefault("end", time.time())
            record["seconds"] = record["end"] - record["start"]

    def _offer_provisional(self, submitted: Query) -> None:
        """Show the next batch from the current (previous) model at once; labels go to a holding store."""
        learner = self.learner
        if learner.remaining_budget == 0:
            return
        query, items = self._draw(as_round=submitted.round + 1)
        with self._lock:
            holding = LabelStore(
                None if self.save_dir is None else self.save_dir / _HOLDING_FILE, learner.pool.class_names
            )
            self._holding = holding
            self._provisional = (query, items)
            self.controller.hold(holding)
            assert self.labeling is not None
            self.labeling.set_query(query, audit={it.index for it in items})
            self.labeling.status.value = html.escape(
                "The model is training. You can label this next batch now (it comes from the previous model) "
                "or wait for the new model's batch."
            )

    def _fit(self) -> None:
        """``learner.fit()`` with a progress bar and a cancel point at every training step."""
        learner = self.learner
        cfg = learner.trainer.config
        n = learner.num_labeled
        epochs = cfg.epochs_for(n) if hasattr(cfg, "epochs_for") else cfg.epochs
        steps = max(1, epochs * math.ceil(n / cfg.batch_size))
        done = [0]

        def step(module: Any, _inputs: Any) -> None:
            if not module.training:
                return
            if self._cancel.is_set():
                raise FitCancelled("the fit was cancelled")
            done[0] += 1
            self.progress.value = min(1.0, done[0] / steps)

        handle = learner.classifier.register_forward_pre_hook(step)
        try:
            learner.fit()
        finally:
            handle.remove()

    def _after_round(self) -> None:
        """After the round closed: move held labels into the pool and show the next batch."""
        learner = self.learner
        with self._lock:
            if self._holding_touched():
                self._keep_provisional()
                return
        reason = learner.check_stopping()
        if reason is not None:
            with self._lock:
                self._release_holding()
            self._finish(reason)
            return
        self._phase("Asking the new model for the next batch…", 1.0)
        query, items = self._draw()
        with self._lock:
            if self._holding_touched():
                self._keep_provisional()  # the person started the provisional batch meanwhile
                return
            self._release_holding()
            self._commit(query, items)
            self._save()
            self._phase(None)
            self._show(query, frozenset(it.index for it in items))

    def _holding_touched(self) -> bool:
        return self._holding is not None and len(self._holding.actions) > 0

    def _keep_provisional(self) -> None:
        """The person labels the provisional batch: it becomes this round's batch, its labels go to the pool."""
        assert self._provisional is not None
        query, items = self._provisional
        round_ = self.learner.round
        query = dataclasses.replace(query, round=round_)
        items = [dataclasses.replace(it, round=round_) for it in items]
        self._release_holding()
        self._commit(query, items)
        self._save()
        self._phase(None)
        self._show(query, frozenset(it.index for it in items))

    def _abandon_provisional(self) -> None:
        """After a cancelled or failed fit: held labels go to the pool (in the open round); held audit items
        that were labeled join that round's audit items."""
        provisional = self._provisional
        round_ = self.learner.round
        self._release_holding()
        if provisional is not None:
            store = self.learner.pool.store
            kept = [
                dataclasses.replace(it, round=round_)
                for it in provisional[1]
                if store.current_action(it.index) is not None
            ]
            if kept:
                current = [it for it in self.audit_log.items() if it.round == round_]
                self.audit_log.set_round(round_, current + kept)

    def _release_holding(self) -> None:
        """Move every label and skip of the holding store into the pool, then delete the holding file."""
        holding = self._holding
        self.controller.hold(None)
        self._holding = None
        self._provisional = None
        if holding is None:
            return
        self._move_held(holding)

    def _move_held(self, holding: LabelStore) -> None:
        pool = self.learner.pool
        store = pool.store
        for index, label in holding.labels.items():
            if index in pool and store.current_action(index) is None:  # never overwrite a newer label
                pool.label([index], [label], annotator=self._annotator_of(holding, index))
        for index in holding.skipped:
            if index in pool and store.current_action(index) is None:
                pool.skip(index, annotator=self._annotator_of(holding, index))
        if holding.path is not None:
            holding.path.unlink(missing_ok=True)

    def _annotator_of(self, store: LabelStore, index: int) -> str:
        action = store.current_action(index)
        return self.annotator if action is None else action.annotator

    def _recover_holding(self) -> None:
        if self.save_dir is None:
            return
        path = self.save_dir / _HOLDING_FILE
        if path.is_file():
            held = LabelStore(path, self.learner.pool.class_names)
            _log.warning("moving %d labels given during an interrupted fit into the pool", len(held.labels))
            self._move_held(held)

    # ------------------------------------------------------------------ showing

    def _show(self, query: Query, audit: frozenset[int]) -> None:
        with self._lock:
            self._show_locked(query, audit)

    def _show_locked(self, query: Query, audit: frozenset[int]) -> None:
        if self.labeling is None:  # pragma: no cover - a labeling widget exists unless finished at start
            self.labeling = LabelingWidget(
                self.learner.pool,
                query,
                on_submit=self._on_submit,
                audit=audit,
                controller=self.controller,
                **self._options,
            )
        else:
            self.labeling.set_query(query, audit=audit)
        self.status.value = ""
        self._update_header()

    def _phase(self, message: str | None, progress: float | None = None) -> None:
        """Show what the background round does now (``None``: nothing runs)."""
        if message is None:
            self.progress.layout.visibility = "hidden"
            self.cancel_button.layout.display = "none"
            self.status.value = ""
            return
        self.progress.layout.visibility = "visible"
        self.cancel_button.layout.display = "flex" if message.startswith("Training") else "none"
        if progress is not None:
            self.progress.value = progress
        self.status.value = f"<b class='alnb-training'>{html.escape(message)}</b>"

    def _show_failure(self, what: str, err: BaseException, retry: bool = False) -> None:
        hint = " Submit the batch again to retry." if retry else " Call session.next_batch() to continue."
        message = f"{what} ({type(err).__name__}: {err}). Every label is saved.{hint}"
        self.error.value = f"<span class='alnb-error' style='color:#b00020'>⚠ {html.escape(message)}</span>"

    def _evaluate(self) -> tuple[dict[str, float], Any, Any]:
        """Test metrics and the probabilities behind them, from one prediction pass (none without test)."""
        learner = self.learner
        if learner.test is None:
            return {}, None, None
        metrics = learner.evaluate()
        assert learner.last_test_predictions is not None
        probs = learner.last_test_predictions.probs.detach().cpu().numpy()
        return metrics, probs, learner.test_labels.numpy()

    def _redraw_report(self) -> None:
        _, probs, labels = self._evaluate()
        self.report.update(self.learner.history, probs, labels)

    def _update_audit(self) -> None:
        if self.audit_share == 0 and not self.audit_log.items():
            self.audit_line.value = ""
            return
        est = self.audit_estimate()
        self.report.set_audit(est, self._audit_curve())
        self.audit_line.value = (
            "<span style='font-size:12px'><b>Without a test set:</b> "
            + html.escape(est.describe())
            + "</span>"
        )

    def _audit_curve(self) -> list[tuple[int, float, float, float]]:
        """Per round: the labels the audited model had, and its accuracy on that round's audit images."""
        store = self.learner.pool.store
        labels, skipped = _human_labels(store), store.skipped
        history = self.learner.history
        points = []
        for round_ in sorted({it.round for it in self.audit_log.items()}):
            if round_ > len(history):
                continue
            est = estimate(self.audit_log.items(), labels, skipped=skipped, rounds=[round_], n_boot=1)
            if est.accuracy is not None:
                x = 0 if round_ == 0 else int(history[round_ - 1]["num_labeled"])
                points.append((x, est.accuracy.estimate, est.accuracy.low, est.accuracy.high))
        return points

    def _save(self) -> None:
        if self.save_dir is not None:
            with self._lock:
                self.learner.save(self.save_dir)

    def _finish(self, reason: str) -> None:
        self._stop_reason = reason
        learner = self.learner
        self._phase(None)
        if self.labeling is not None:
            with self._lock:
                self.labeling.finish(reason)
        where = learner.pool.store.path or learner.pool.store.url  # a database URL shows no password
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
