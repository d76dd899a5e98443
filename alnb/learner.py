"""The active-learning loop, with a non-blocking step API for people and a ``run`` driver for simulations.

One round is: ``query()`` → labels (``teach``) → ``fit()`` → ``evaluate()``. A person drives the steps from a widget; a
simulated oracle drives them from ``run``. Both write the same history, and ``save`` / ``ActiveLearner.load`` resume after
a kernel restart with the next query exactly as it would have been.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import torch
from tqdm.auto import tqdm

from alnb._paths import resolve_model_name
from alnb._validation import check_non_negative_int, check_positive_int
from alnb.errors import BudgetSpentError, NonFinitePredictionsError, PoolExhaustedError, StepOrderError
from alnb.metrics import evaluate as evaluate_metrics
from alnb.pool import Pool
from alnb.predictions import Predictions
from alnb.protocols import ImageDataset, TrainerLike
from alnb.stopping import LabelBudget, MaxRounds, StoppingCriterion
from alnb.store import LabelStore, dataset_fingerprint, is_database_url
from alnb.strategies import QueryContext, Strategy, build_strategy

if TYPE_CHECKING:
    from alnb.models.base import Classifier

__all__ = ["ActiveLearner", "DatasetOracle", "NonFinitePredictionsError", "Query"]

IntArray = npt.NDArray[np.int64]
Oracle = Callable[[IntArray], Sequence[int]]
_STATE_FILE = "learner.json"
#: Version of ``learner.json``. 2: the pool's round and data layout (``round``, ``image_column``, ``label_column``)
#: are saved, ``fitted_labels`` is gone. 1 (alnb 0.2) is still read.
_STATE_FORMAT = 2


def _check_finite(predictions: Predictions, store: LabelStore, num_labeled: int) -> None:
    """Raise :class:`NonFinitePredictionsError` naming the field, how many items and which, when any predicted
    tensor holds NaN or inf (a ranking of NaN scores looks plausible but means nothing)."""
    for name in ("logits", "probs", "embeddings", "prob_samples"):
        value = getattr(predictions, name)
        if value is None or not value.is_floating_point():
            continue
        bad_rows = ~torch.isfinite(value.reshape(value.shape[0], -1)).all(dim=1)
        if not bool(bad_rows.any()):
            continue
        bad = predictions.indices[bad_rows.numpy()]
        kinds = [k for k, hit in (("NaN", value.isnan().any()), ("inf", value.isinf().any())) if bool(hit)]
        where = f" in {store.path}" if store.path is not None else " in the in-memory label store"
        raise NonFinitePredictionsError(
            f"cannot query: the model's {name} hold {' and '.join(kinds)} for {len(bad)} of {len(predictions)} "
            f"pool items (dataset indices {bad[:10].tolist()}{' …' if len(bad) > 10 else ''}); expected finite "
            "values. The classifier's weights or these images are broken: a diverged fit (try a lower "
            "TrainerConfig.lr, or mixed_precision='no'), a checkpoint holding NaN, or images holding NaN. Nothing "
            f"was queried, and the {num_labeled} labels{where} are kept."
        )


@dataclass(frozen=True)
class Query:
    """Items the model asks to be labeled, and why.

    Attributes
    ----------
    indices : ndarray of int64
        Dataset-wide indices, in the order the strategy chose them.
    scores : ndarray of float64
        The strategy's score of each item (higher = wanted more; NaN where the strategy has none, e.g. random).
    predicted : ndarray of int64
        The model's predicted class of each item.
    confidence : ndarray of float64
        The probability of that class.
    round : int
        The round this query belongs to.
    strategy : str
        Name of the strategy that chose the items.
    pseudo_indices : ndarray of int64
        Items a selective strategy (``cbsq``) labeled with the model's prediction instead of asking; already in the
        label store as pseudo-labels. Empty for other strategies.
    pseudo_labels : ndarray of int64
        Those labels (the predicted classes).
    """

    indices: IntArray
    scores: npt.NDArray[np.float64]
    predicted: IntArray
    confidence: npt.NDArray[np.float64]
    round: int
    strategy: str
    pseudo_indices: IntArray = dataclasses.field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    pseudo_labels: IntArray = dataclasses.field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def __len__(self) -> int:
        return len(self.indices)

    def to_dict(self) -> dict[str, Any]:
        return {
            "indices": self.indices.tolist(),
            "scores": [None if np.isnan(s) else float(s) for s in self.scores],
            "predicted": self.predicted.tolist(),
            "confidence": self.confidence.tolist(),
            "round": self.round,
            "strategy": self.strategy,
            **(
                {"pseudo_indices": self.pseudo_indices.tolist(), "pseudo_labels": self.pseudo_labels.tolist()}
                if len(self.pseudo_indices)
                else {}
            ),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Query:
        return cls(
            indices=np.asarray(data["indices"], dtype=np.int64),
            scores=np.asarray([np.nan if s is None else s for s in data["scores"]], dtype=np.float64),
            predicted=np.asarray(data["predicted"], dtype=np.int64),
            confidence=np.asarray(data["confidence"], dtype=np.float64),
            round=int(data["round"]),
            strategy=str(data["strategy"]),
            pseudo_indices=np.asarray(data.get("pseudo_indices", []), dtype=np.int64),
            pseudo_labels=np.asarray(data.get("pseudo_labels", []), dtype=np.int64),
        )


class DatasetOracle:
    """A simulated annotator that answers with the labels stored in a column of the data set."""

    def __init__(self, dataset: ImageDataset, column: str = "label") -> None:
        columns = list(getattr(dataset, "column_names", None) or [])
        if column not in columns:
            has = f"it has columns {columns}" if columns else f"a {type(dataset).__name__} has no named columns"
            raise ValueError(f"column={column!r} is not in the data set; {has}. Expected a datasets.Dataset column.")
        self.dataset = dataset
        self.column = column
        self._labels = np.asarray(dataset[column], dtype=np.int64)

    def __call__(self, indices: IntArray) -> list[int]:
        return self._labels[np.asarray(indices, dtype=np.int64)].tolist()


def _classifier_spec(classifier: Any) -> dict[str, Any]:
    """What ``load_classifier`` needs to rebuild the classifier (its weights come from the saved adapter)."""
    described = classifier._describe()
    templates = getattr(classifier, "templates", None)
    return {
        "model": resolve_model_name(described["model"]),
        "class_names": described["class_names"],
        "adapter": described["adapter"],
        "options": described["config"],
        "templates": None if templates is None else list(templates),
        "seed": int(classifier.seed),
        # A bf16 session resumes in bf16 (same logits); sessions saved without it were float32.
        "torch_dtype": str(getattr(classifier, "backbone_dtype", torch.float32)).removeprefix("torch."),
    }


def _relative_store_path(store_path: Path, directory: Path) -> str:
    """The label file relative to the session folder when it lies inside it, else its absolute path."""
    absolute = store_path.resolve()
    try:
        return absolute.relative_to(directory.resolve()).as_posix()
    except ValueError:
        return str(absolute)


def _check_store_file(state: Mapping[str, Any], directory: Path) -> Path | str:
    """The saved label file's path (relative paths are inside ``directory``); it must exist."""
    if is_database_url(state["store"]):  # a database: its saved URL, no password
        from alnb.store.sql import resolve_saved_url

        return resolve_saved_url(state["store"], directory)
    path = Path(state["store"])
    if not path.is_absolute():
        path = (directory / path).absolute()
    if not path.is_file():
        expected = state.get("num_labeled")
        count = f"{expected} labels" if expected is not None else "the session's labels"
        raise FileNotFoundError(
            f"the label file {path} of the session in {directory} is missing; expected it to hold {count}. "
            "Copy the label file back there (it moves with the session folder when it lies inside it), or "
            "start a new session."
        )
    return path


def _check_store_holds(store: LabelStore, state: Mapping[str, Any], path: Path | str) -> None:
    """Refuse a label file with fewer labels or actions than when the session was saved."""
    labels, actions = len(store.labels), len(store.actions)
    want_labels, want_actions = state.get("num_labeled"), state.get("store_actions")
    if (want_actions is not None and actions < int(want_actions)) or (
        want_labels is not None and want_actions is None and labels < int(want_labels)
    ):
        raise ValueError(
            f"the label file {path} holds {labels} labels ({actions} actions), but the saved session expects "
            f"{want_labels} labels ({want_actions} actions); expected the file the session was saved with, or "
            "a later copy of it. Was it replaced by an older copy or truncated?"
        )


class ActiveLearner:
    """Pool-based active learning of one classifier.

    Parameters
    ----------
    classifier : alnb.models.Classifier
        What is trained (a CLIP with an adapter, or a vision model with a head).
    pool : alnb.Pool
        The unlabeled pool and its (persistent) labels; every index is dataset-wide.
    trainer : alnb.Trainer
        Trains the classifier on the labeled items and predicts on any items.
    strategy : str, mapping or Strategy
        The query strategy, e.g. ``"entropy"``, ``"entropy+pcb"`` (C-PEAL's class balancing) or ``"badge"``; see
        :func:`alnb.strategies.build_strategy`.
    budget : int, optional
        Total number of labels to spend; ``None`` for the whole pool.
    test : datasets.Dataset, optional
        Held-out labeled data that ``evaluate`` scores; without it ``evaluate`` returns only the label count.
    seed : int
        Seed of every random choice; the same seed gives the same queries.
    query_size : int, optional
        Items per query; defaults to the number of classes (C-PEAL's protocol).
    initial_strategy : str, mapping or Strategy
        Strategy of the first query, when nothing is labeled yet (``"random"``, ``"typiclust"``, ``"zeroshot"`` or
        ``"cb"``).
    stopping : sequence of StoppingCriterion
        Extra criteria for ``run`` besides the budget (e.g. ``MetricPatience``, ``CalibrationPlateau``).
    test_label_column : str, optional
        Label column of ``test``; default: the pool's ``label_column`` (the test set has the pool's layout).

    Notes
    -----
    The pool's data layout is the one setting of the columns: the trainer reads images from ``pool.image_column``
    (a trainer config left at the default ``"image"`` is given the pool's column), and ``run`` without an oracle, like
    ``test``, reads labels from ``pool.label_column``. The round is the pool's (:attr:`round`).
    """

    def __init__(
        self,
        classifier: Classifier,
        pool: Pool,
        trainer: TrainerLike,
        strategy: str | Mapping[str, Any] | Strategy = "entropy",
        budget: int | None = None,
        *,
        test: Any = None,
        seed: int = 0,
        query_size: int | None = None,
        initial_strategy: str | Mapping[str, Any] | Strategy = "random",
        stopping: Sequence[StoppingCriterion] = (),
        test_label_column: str | None = None,
    ) -> None:
        if list(classifier.class_names) != list(pool.class_names):
            raise ValueError(
                f"classifier.class_names {list(classifier.class_names)} differ from pool.class_names "
                f"{list(pool.class_names)}; expected the same classes in the same order"
            )
        if budget is not None:
            check_positive_int(budget, "budget")
        if query_size is not None:
            check_positive_int(query_size, "query_size")
        check_non_negative_int(seed, "seed")
        if test_label_column is None:
            test_label_column = pool.label_column
        if test is not None and test_label_column not in test.column_names:
            raise ValueError(
                f"test_label_column={test_label_column!r} is not a column of test ({test.column_names})"
            )
        self.classifier = classifier
        self.pool = pool
        self.trainer = _with_image_column(trainer, pool.image_column)
        self.strategy = build_strategy(strategy)
        self.initial_strategy = build_strategy(initial_strategy)
        self.budget = budget
        self.test = test
        self.seed = seed
        self.query_size = query_size or pool.num_classes
        self.stopping = tuple(stopping)
        self.test_label_column = test_label_column
        self.history: list[dict[str, Any]] = []
        self.pending: Query | None = None
        self.last_test_predictions: Predictions | None = None
        self.stop_reason: str | None = None
        self._initial_pool_size = len(pool.unlabeled) + len(pool.labeled)
        self._query_seconds = 0.0
        self._train_seconds = 0.0
        #: Fingerprint of the labels the classifier was last fitted on (None: not fitted in this session).
        self._fitted_on: str | None = None
        #: Pseudo-labels of this round the simulated oracle agreed with (None: not checked; see ``step``).
        self._pseudo_correct: int | None = None

    # ------------------------------------------------------------------ state

    @property
    def round(self) -> int:
        """The current round: the pool's (:attr:`alnb.Pool.round`, its one owner). ``end_round`` closes it and
        starts the next; for a learner started on a new pool it equals ``len(history)``."""
        return self.pool.round

    @property
    def num_labeled(self) -> int:
        """Labeled pool items, pseudo-labels included (what ``fit`` trains on)."""
        return len(self.pool.labeled)

    @property
    def num_human_labeled(self) -> int:
        """Labels a person (or the simulated oracle) gave: what the budget counts; pseudo-labels are free."""
        return len(self.pool.store.human_labels)

    @property
    def remaining_budget(self) -> int:
        """Labels still to spend (budget minus human labels, or the unlabeled pool size without a budget)."""
        unlabeled = len(self.pool.unlabeled)
        if self.budget is None:
            return unlabeled
        return max(0, min(self.budget - self.num_human_labeled, unlabeled))

    def _budget_spent(self) -> bool:
        return self.budget is not None and self.num_human_labeled >= self.budget

    def _labels_fingerprint(
        self, labeled: npt.NDArray[np.int64] | None = None, labels: npt.NDArray[np.int64] | None = None
    ) -> str:
        """A digest of the labeled set (indices and classes): what ``fit`` trained on, compared by ``end_round``."""
        labeled = self.pool.labeled if labeled is None else labeled
        labels = self.pool.labels if labels is None else labels
        digest = hashlib.sha256(np.ascontiguousarray(labeled, dtype=np.int64).tobytes())
        digest.update(np.ascontiguousarray(labels, dtype=np.int64).tobytes())
        return digest.hexdigest()

    def _pool_counts(self) -> str:
        return f"{self.num_labeled} labeled, {len(self.pool.skipped)} skipped"

    # ------------------------------------------------------------------ steps

    def predict_pool(self) -> Predictions:
        """The classifier's predictions on every unlabeled and labeled pool item (one pass)."""
        indices = np.union1d(self.pool.unlabeled, self.pool.labeled).astype(np.int64)
        return self.trainer.predict(self.classifier, self.pool.dataset, indices, **self._predict_options())

    def _predict_options(self) -> dict[str, Any]:
        needs_samples = "prob_samples" in self._active_strategy().required_fields()
        return {"mc_samples": 10} if needs_samples else {}

    def _active_strategy(self) -> Strategy:
        return self.initial_strategy if self.num_labeled == 0 else self.strategy

    def query(self, k: int | None = None, *, annotator: str = "human") -> Query:
        """Ask the strategy for the next items to label (``k`` defaults to ``query_size``, capped by the budget).

        The query is kept as ``pending`` until ``end_round`` closes the round; calling ``query`` again recomputes it.

        On a shared (database) label store, items another annotator holds a lease on are not offered, and the
        items chosen are leased to this store's session under ``annotator``'s name
        (:meth:`alnb.LabelStore.lease`), so people labeling one pool at once get disjoint batches.

        A selective strategy (one with ``select_selectively``, such as ``cbsq``) may label some items with the model's
        prediction instead of asking: those go to the label store at once as pseudo-labels (annotator ``"model"``,
        reversible like any label, free of budget) and are listed in ``Query.pseudo_indices``; the query itself
        holds only the items that need a person.

        Raises
        ------
        BudgetSpentError, PoolExhaustedError
            (``ValueError`` subclasses, see :mod:`alnb.errors`) when the label budget is spent or no unlabeled item
            is left.
        NonFinitePredictionsError
            (a ``ValueError``) when the model's logits, probabilities or embeddings on the pool hold NaN or inf;
            the labels given so far stay in the store and ``pending`` is left as it was.
        """
        remaining = self.remaining_budget
        if remaining == 0:
            if self._budget_spent():
                raise BudgetSpentError(
                    f"cannot query: the label budget is spent ({self.num_human_labeled} labeled of a budget of "
                    f"{self.budget})"
                )
            raise PoolExhaustedError(
                f"cannot query: the pool has no unlabeled items left ({self._pool_counts()}); the budget "
                f"{'is unlimited' if self.budget is None else f'of {self.budget} is not spent'}"
            )
        k = min(self.query_size if k is None else check_positive_int(k, "k"), remaining)
        started = time.perf_counter()
        strategy = self._active_strategy()
        predictions = self.predict_pool()
        _check_finite(predictions, self.pool.store, self.num_labeled)
        store = self.pool.store
        team = store.url is not None  # a database store is shared: each annotator leases its own batch
        held: set[int] = set()  # leased by other annotators: not offered here
        for _attempt in range(3):
            if team:
                held |= store.leased_by_others()
            unlabeled = self.pool.unlabeled
            if held:
                unlabeled = unlabeled[~np.isin(unlabeled, sorted(held))]
                if len(unlabeled) == 0:
                    raise PoolExhaustedError(
                        f"cannot query: every unlabeled item is leased by another annotator ({len(held)} held); "
                        "wait for their labels or for the leases to expire"
                    )
            offered = predictions.subset(unlabeled) if held else predictions
            selection, pseudo_indices, pseudo_labels = self._select(strategy, offered, int(k), unlabeled)
            if not team:
                break
            wanted = selection.indices.tolist()
            taken = store.lease(wanted, len(wanted), annotator=annotator)
            if len(taken) == len(wanted):
                break
            # Another annotator leased some of them in the meantime: choose again without those.
            store.release(taken)
            held |= set(wanted) - set(taken)
        else:
            raise PoolExhaustedError(
                "cannot query: other annotators kept leasing the items chosen here (3 tries); try again"
            )
        chosen = predictions.subset(selection.indices)
        self._query_seconds += time.perf_counter() - started
        if len(pseudo_indices):
            self.pool.store.label(
                pseudo_indices, pseudo_labels, round=self.pool.round, annotator="model", pseudo=True
            )
        self.pending = Query(
            indices=selection.indices,
            scores=selection.scores,
            predicted=chosen.predicted,
            confidence=chosen.confidence,
            round=self.round,
            strategy=strategy.name,
            pseudo_indices=np.asarray(pseudo_indices, dtype=np.int64),
            pseudo_labels=np.asarray(pseudo_labels, dtype=np.int64),
        )
        return self.pending

    def _select(
        self, strategy: Strategy, predictions: Predictions, k: int, unlabeled: npt.NDArray[np.int64]
    ) -> tuple[Any, npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """The strategy's selection among ``unlabeled``, and the pseudo-labels of a selective strategy."""
        context = QueryContext(
            unlabeled=unlabeled,
            labeled=self.pool.labeled,
            labels=self.pool.labels,
            num_classes=self.pool.num_classes,
            seed=self.seed,
            round=self.round,
            pool_size=self._initial_pool_size,
        )
        selective = getattr(strategy, "select_selectively", None)
        if callable(selective):
            split = selective(predictions, k, context)
            return split.human, split.pseudo_indices, split.pseudo_labels
        no_pseudo = np.zeros(0, dtype=np.int64)
        return strategy.select(predictions, k, context), no_pseudo, no_pseudo

    def teach(
        self, indices: Sequence[int] | IntArray, labels: Sequence[int | str], annotator: str = "human"
    ) -> None:
        """Record labels (ints or class names) for dataset indices; written to the label store at once."""
        self.pool.label(indices, labels, annotator=annotator)

    def fit(self) -> ActiveLearner:
        """Retrain the classifier on every labeled item; ``end_round`` then closes the round (``fit`` does not).

        Raises
        ------
        StepOrderError
            (a ``ValueError``) when nothing is labeled yet.
        """
        if self.num_labeled == 0:
            raise StepOrderError("cannot fit: nothing is labeled yet; label some items (teach) first")
        # One snapshot of the labels, taken before training: labels given while it trains (another thread or
        # process) are not claimed as trained on.
        labeled, labels = self.pool.labeled_snapshot()
        started = time.perf_counter()
        self.trainer.fit(self.classifier, self.pool.dataset, labeled, labels)
        self._train_seconds += time.perf_counter() - started
        self._fitted_on = self._labels_fingerprint(labeled, labels)
        return self

    def evaluate(self) -> dict[str, float]:
        """Metrics of the current classifier on ``test`` (accuracy, ECE, MCE, ACE, NLL, Brier, error-detection AUROC).

        The test predictions behind them stay in ``last_test_predictions`` (for reliability diagrams).
        """
        if self.test is None:
            return {}
        indices = np.arange(len(self.test), dtype=np.int64)
        self.last_test_predictions = self.trainer.predict(self.classifier, self.test, indices)
        return {
            k: float(v)
            for k, v in evaluate_metrics(self.last_test_predictions.probs, self.test_labels).items()
        }

    @property
    def test_labels(self) -> torch.Tensor:
        """Labels of the test set (empty without one)."""
        if self.test is None:
            return torch.zeros(0, dtype=torch.long)
        return torch.as_tensor(np.asarray(self.test[self.test_label_column], dtype=np.int64))

    def end_round(self, metrics: Mapping[str, float] | None = None) -> dict[str, Any]:
        """Close the round: append a history record (metrics, timings, what was queried) and start the next round.

        Raises
        ------
        StepOrderError
            (a ``ValueError``) when the labels changed since the last ``fit()`` (or the classifier was never fitted
            on them): the record would describe a model that did not see them. Call ``fit()`` first.
        """
        if self._fitted_on != self._labels_fingerprint():
            never = self._fitted_on is None
            raise StepOrderError(
                f"cannot end round {self.round}: "
                + (
                    "the classifier was not fitted in this session"
                    if never
                    else "the labels changed since the last fit()"
                )
                + f" ({self.num_labeled} labeled now); call fit() before end_round(). The round stays open."
            )
        round_ = self.round
        labeled_now = self.pool.store.labels_in_round(round_)
        pseudo_now = self.pool.store.pseudo_labels
        queried = {i: c for i, c in labeled_now.items() if i not in pseudo_now}
        given = np.asarray(list(queried.values()), dtype=np.int64)
        strategy = self.pending.strategy if self.pending is not None else self._active_strategy().name
        record: dict[str, Any] = {
            "round": round_,
            "num_labeled": self.num_human_labeled,  # the cost axis of learning curves: pseudo-labels are free
            **(metrics if metrics is not None else self.evaluate()),
            "train_seconds": self._train_seconds,
            "query_seconds": self._query_seconds,
            "queried": sorted(int(i) for i in queried),
            "queried_class_histogram": np.bincount(given, minlength=self.pool.num_classes).tolist(),
            "strategy": strategy,
            "seed": self.seed,
        }
        pseudo = [i for i in labeled_now if i in pseudo_now]
        if pseudo or callable(getattr(self.strategy, "select_selectively", None)):
            # Labels saved by selective querying this round, and (with a simulated oracle) how many were right.
            record["pseudo_labeled"] = len(pseudo)
            record["pseudo_total"] = len(pseudo_now)
            if self._pseudo_correct is not None:
                record["pseudo_correct"] = self._pseudo_correct
        self.history.append(record)
        self.pending = None
        self._pseudo_correct = None
        self._train_seconds = self._query_seconds = 0.0
        self.pool.next_round()
        return record

    def step(self, oracle: Oracle) -> dict[str, Any]:
        """One simulated round: query, label with ``oracle``, fit, evaluate, record."""
        query = self.query()
        if len(query.pseudo_indices):
            truth = np.asarray(list(oracle(query.pseudo_indices)), dtype=np.int64)
            self._pseudo_correct = int((truth == query.pseudo_labels).sum())
        elif callable(getattr(self.strategy, "select_selectively", None)):
            self._pseudo_correct = 0
        if len(query):  # every item of a selective query may have been pseudo-labeled
            self.teach(query.indices, list(oracle(query.indices)), annotator="oracle")
        self.fit()
        return self.end_round()

    def check_stopping(self) -> str | None:
        """Why the loop should stop now, or ``None``."""
        if self.remaining_budget == 0:
            if self._budget_spent():
                return "label budget spent"
            return f"unlabeled pool exhausted ({self._pool_counts()})"
        criteria: list[StoppingCriterion] = list(self.stopping)
        if self.budget is not None:
            criteria.append(LabelBudget(self.budget))
        for criterion in criteria:
            reason = criterion.should_stop(self.history)
            if reason:
                return reason
        return None

    def run(
        self, rounds: int, oracle: Oracle | None = None, *, progress: bool = True
    ) -> list[dict[str, Any]]:
        """Run up to ``rounds`` simulated rounds (stopping early on the budget or a stopping criterion).

        ``oracle`` defaults to the pool data set's label column (``pool.label_column``). Returns the history.
        """
        check_positive_int(rounds, "rounds")
        if oracle is None:
            oracle = DatasetOracle(self.pool.dataset, self.pool.label_column)
        limit = MaxRounds(len(self.history) + rounds)
        bar = tqdm(total=rounds, desc="active learning", unit="round", disable=not progress)
        with bar:
            while True:
                reason = self.check_stopping() or limit.should_stop(self.history)
                if reason:
                    self.stop_reason = reason
                    break
                record = self.step(oracle)
                bar.update(1)
                bar.set_postfix(
                    labels=record["num_labeled"], acc=f"{record.get('accuracy', float('nan')):.3f}"
                )
        return self.history

    # ------------------------------------------------------------------ persistence

    def history_json(self) -> str:
        """The history as JSON text."""
        return json.dumps(self.history, indent=2)

    def save(self, directory: str | Path) -> Path:
        """Write everything needed to resume: settings, history, pending query and the trained adapter.

        Labels live in the pool's label store (already on disk when it has a path); an in-memory store is copied to
        ``labels.jsonl`` here. The folder can be moved or copied elsewhere: a label file inside it is recorded
        relative to it (one outside it by its absolute path), and a model loaded from a local folder by that
        folder's absolute path (a Hugging Face id as it is). The number of labels and store actions is recorded
        too, so ``load`` refuses a label file that lost some.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        store = self.pool.store
        store_path = store.path
        if store_path is None and store.url is None:
            store_path = directory / "labels.jsonl"
            store.copy_to(store_path)
        self.classifier.save_adapter(directory / "adapter")
        if hasattr(self.trainer, "feature_cache"):  # image features live in the session folder from now on
            self.trainer.feature_cache.persist(directory / "features")
        state = {
            "format": _STATE_FORMAT,
            "classifier": _classifier_spec(self.classifier),
            "trainer": dataclasses.asdict(self.trainer.config),
            "strategy": self.strategy.to_spec(),
            "initial_strategy": self.initial_strategy.to_spec(),
            "budget": self.budget,
            "seed": self.seed,
            "query_size": self.query_size,
            "initial_pool_size": self._initial_pool_size,
            "pool_indices": None if self.pool.indices is None else self.pool.indices.tolist(),
            "store": store.saved_location(directory) or _relative_store_path(Path(str(store_path)), directory),
            "num_labeled": len(store.labels),
            "store_actions": len(store.actions),
            "store_session": store.session,  # a resumed session may undo what it did before the restart
            "round": self.pool.round,
            "image_column": self.pool.image_column,
            "label_column": self.pool.label_column,
            "fitted_on": self._fitted_on,
            "history": self.history,
            "pending": None if self.pending is None else self.pending.to_dict(),
            "test_label_column": self.test_label_column,
        }
        tmp = directory / (_STATE_FILE + ".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(directory / _STATE_FILE)  # atomic: a crash mid-save never leaves a half-written state
        return directory

    @classmethod
    def load(
        cls,
        directory: str | Path,
        dataset: Any,
        *,
        test: Any = None,
        classifier: Any = None,
        stopping: Sequence[StoppingCriterion] = (),
    ) -> ActiveLearner:
        """Resume a learner written by ``save``; pass the same pool data set (and test set) again.

        The classifier is rebuilt from its saved spec (or pass one) and its adapter weights restored, so the next
        ``query()`` is the one an uninterrupted run would have made. The folder may have been moved since ``save``.

        Sessions of format 1 (alnb 0.2) load too; their round is the later of the label file's last round and the
        number of history records, as it was then.

        Raises
        ------
        FileNotFoundError
            When the label file is missing (it is never silently recreated empty).
        ValueError
            When the label file holds fewer labels or actions than the saved session expects, or the session was
            written in an unknown format.
        """
        from alnb.models import load_classifier
        from alnb.training import FeatureCache, Trainer, TrainerConfig

        directory = Path(directory)
        path = directory / _STATE_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist; expected a folder written by ActiveLearner.save")
        state = json.loads(path.read_text())
        version = state.get("format")
        if version not in (1, _STATE_FORMAT):
            raise ValueError(
                f"{path} is a session of format {version!r}; this alnb reads formats 1 and {_STATE_FORMAT}. "
                "Resume it with the alnb version that wrote it."
            )
        store_path = _check_store_file(state, directory)
        spec = state["classifier"]
        if classifier is None:
            classifier = load_classifier(
                spec["model"],
                spec["class_names"],
                adapter=spec["adapter"],
                templates=spec["templates"],
                seed=spec["seed"],
                torch_dtype=spec.get("torch_dtype"),
                **spec["options"],
            )
        classifier.load_adapter(directory / "adapter")
        names = spec["class_names"]
        store = LabelStore(
            store_path, names, dataset_fingerprint(dataset, names), session=state.get("store_session")
        )
        _check_store_holds(store, state, store_path)
        history = list(state["history"])
        # Format 1 kept no round: it was the store's last round, advanced to len(history) after a round had ended.
        round_ = state["round"] if "round" in state else max(store.last_round, len(history))
        pool = Pool(
            dataset,
            names,
            store=store,
            indices=state["pool_indices"],
            image_column=state.get("image_column", state["trainer"].get("image_column", "image")),
            label_column=state.get("label_column", "label"),
            round=round_,
        )
        learner = cls(
            classifier,
            pool,
            Trainer(TrainerConfig(**state["trainer"]), feature_cache=FeatureCache(directory / "features")),
            state["strategy"],
            state["budget"],
            test=test,
            seed=state["seed"],
            query_size=state["query_size"],
            initial_strategy=state["initial_strategy"],
            stopping=stopping,
            test_label_column=state["test_label_column"],
        )
        learner.history = history
        learner.pending = None if state["pending"] is None else Query.from_dict(state["pending"])
        learner._initial_pool_size = int(state["initial_pool_size"])
        if "fitted_on" in state:
            learner._fitted_on = state["fitted_on"]
        elif int(state["fitted_labels"]) == learner.num_labeled:  # saved before "fitted_on" existed
            learner._fitted_on = learner._labels_fingerprint()
        return learner


def _with_image_column(trainer: TrainerLike, column: str) -> TrainerLike:
    """``trainer`` reading images from the pool's ``column``: a config at the default ``"image"`` is given it."""
    config = getattr(trainer, "config", None)
    current = getattr(config, "image_column", None)
    if config is None or current is None or current == column:
        return trainer
    if current != "image":
        raise ValueError(
            f"trainer.config.image_column={current!r} differs from pool.image_column={column!r}; expected one "
            "setting of the data layout: give it to the pool (Pool(..., image_column=...)) and leave the trainer's "
            "at its default."
        )
    trainer.config = dataclasses.replace(config, image_column=column)
    return trainer
