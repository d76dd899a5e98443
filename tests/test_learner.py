"""The active-learning loop on a tiny real CLIP: rounds, history, determinism, budget, stopping, save / resume."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import COLOR_NAMES, color_images
from datasets import ClassLabel, Dataset, Features
from datasets import Image as ImageFeature

from alnb import (
    ActiveLearner,
    BudgetSpentError,
    DatasetOracle,
    LabelStore,
    Pool,
    StepOrderError,
    Trainer,
    TrainerConfig,
)
from alnb.models import load_classifier
from alnb.stopping import CalibrationPlateau, LabelBudget, MaxRounds, MetricPatience

NAMES = list(COLOR_NAMES)


@pytest.fixture(scope="module")
def test_set() -> Dataset:
    images, labels = color_images(seed=1, per_class=6)
    features = Features({"image": ImageFeature(), "label": ClassLabel(names=NAMES)})
    return Dataset.from_dict({"image": images, "label": labels}, features=features)


def make_learner(
    clip_dir, dataset, test_set, *, strategy="entropy+pcb", seed=0, store=None, budget=None, **kw
):
    classifier = load_classifier(clip_dir, NAMES, adapter="coop", n_ctx=4)
    trainer = Trainer(TrainerConfig(epochs=2, batch_size=8, lr=0.01, calibration="uc", seed=seed, quiet=True))
    pool = Pool(dataset, NAMES, store=store, indices=kw.pop("indices", None))
    return ActiveLearner(classifier, pool, trainer, strategy, budget, test=test_set, seed=seed, **kw)


def test_rounds_write_a_complete_history(clip_dir, color_dataset, test_set):
    learner = make_learner(clip_dir, color_dataset, test_set)
    history = learner.run(3, progress=False)
    assert [r["num_labeled"] for r in history] == [4, 8, 12]
    assert [r["round"] for r in history] == [0, 1, 2]
    assert history[0]["strategy"] == "random" and history[1]["strategy"] == "class_balanced"
    for record in history:
        for key in (
            "accuracy",
            "ece",
            "mce",
            "ace",
            "nll",
            "brier",
            "auroc",
            "train_seconds",
            "query_seconds",
        ):
            assert key in record
        assert 0.0 <= record["accuracy"] <= 1.0 and record["train_seconds"] > 0
        assert len(record["queried"]) == 4 and sum(record["queried_class_histogram"]) == 4
    asked = [i for r in history for i in r["queried"]]
    assert len(set(asked)) == 12  # never asks for an item twice
    assert json.loads(learner.history_json()) == history
    # The class histogram counts the labels given in that round.
    labels = np.asarray(color_dataset["label"])
    assert (
        history[1]["queried_class_histogram"]
        == np.bincount(labels[history[1]["queried"]], minlength=4).tolist()
    )


def test_same_seed_same_queries_other_seed_differs(clip_dir, color_dataset, test_set):
    runs = [make_learner(clip_dir, color_dataset, test_set, seed=s).run(2, progress=False) for s in (0, 0, 1)]
    same = [[r["queried"] for r in h] for h in runs]
    assert same[0] == same[1]
    assert same[0] != same[2]


def test_queries_use_dataset_wide_indices_of_a_sub_pool(clip_dir, color_dataset, test_set):
    indices = np.arange(20, 60)
    learner = make_learner(clip_dir, color_dataset, test_set, indices=indices)
    query = learner.query()
    assert set(query.indices.tolist()) <= set(indices.tolist())
    assert len(query.predicted) == len(query.indices) == len(query.confidence) == 4


def test_budget_caps_the_last_query_and_stops(clip_dir, color_dataset, test_set):
    learner = make_learner(clip_dir, color_dataset, test_set, budget=6)
    history = learner.run(10, progress=False)
    assert [r["num_labeled"] for r in history] == [4, 6]
    assert learner.stop_reason == "label budget spent"
    with pytest.raises(ValueError, match="label budget is spent"):
        learner.query()


def test_fit_before_any_label_and_mismatched_classes_are_refused(clip_dir, color_dataset, test_set):
    learner = make_learner(clip_dir, color_dataset, test_set)
    with pytest.raises(ValueError, match="nothing is labeled yet"):
        learner.fit()
    classifier = load_classifier(clip_dir, ["red", "green", "blue", "cyan"], adapter="zeroshot")
    with pytest.raises(ValueError, match=r"differ from pool\.class_names"):
        ActiveLearner(classifier, Pool(color_dataset, NAMES), Trainer(), "entropy")
    with pytest.raises(ValueError, match="budget must be a positive integer, got 0"):
        make_learner(clip_dir, color_dataset, test_set, budget=0)
    with pytest.raises(ValueError, match="query_size must be a positive integer, got True"):
        make_learner(clip_dir, color_dataset, test_set, query_size=True)
    with pytest.raises(ValueError, match="seed must be a non-negative integer, got -1"):
        make_learner(clip_dir, color_dataset, test_set, seed=-1)


def test_human_steps_then_save_and_resume_gives_the_same_next_query(
    clip_dir, color_dataset, test_set, tmp_path
):
    store = LabelStore(tmp_path / "labels.jsonl", NAMES)
    learner = make_learner(clip_dir, color_dataset, test_set, store=store)
    oracle = DatasetOracle(color_dataset)
    for _ in range(2):
        query = learner.query()
        learner.teach(query.indices, [NAMES[y] for y in oracle(query.indices)])  # class names work as labels
        learner.fit().end_round()
    pending = learner.query()
    learner.save(tmp_path / "session")

    resumed = ActiveLearner.load(tmp_path / "session", color_dataset, test=test_set)
    assert resumed.round == 2 and resumed.history == learner.history
    assert np.array_equal(resumed.pending.indices, pending.indices)
    assert np.array_equal(resumed.pool.labeled, learner.pool.labeled)
    assert np.array_equal(resumed.query().indices, pending.indices)
    # The resumed learner goes on exactly like the original.
    resumed.teach(pending.indices, oracle(pending.indices))
    learner.teach(pending.indices, oracle(pending.indices))
    assert resumed.fit().end_round()["queried"] == learner.fit().end_round()["queried"]


def test_in_memory_store_is_copied_on_save(clip_dir, color_dataset, test_set, tmp_path):
    learner = make_learner(clip_dir, color_dataset, test_set)
    learner.run(1, progress=False)
    learner.save(tmp_path / "s")
    learner.save(tmp_path / "s")  # saving twice rewrites the copy instead of appending to it
    resumed = ActiveLearner.load(tmp_path / "s", color_dataset, test=test_set)
    assert sorted(resumed.pool.labeled.tolist()) == sorted(learner.pool.labeled.tolist())


def test_stopping_criteria_on_histories():
    history = [{"num_labeled": 10 * (i + 1), "accuracy": a, "ece": e} for i, (a, e) in
               enumerate([(0.5, 0.20), (0.6, 0.10), (0.58, 0.099), (0.59, 0.098)])]  # fmt: skip
    assert MaxRounds(4).should_stop(history) == "reached 4 rounds"
    assert MaxRounds(5).should_stop(history) is None
    assert LabelBudget(40).should_stop(history) is not None and LabelBudget(41).should_stop(history) is None
    assert MetricPatience("accuracy", patience=2).should_stop(history) is not None
    assert MetricPatience("accuracy", patience=3).should_stop(history) is None
    assert CalibrationPlateau("ece", patience=2, min_delta=0.005).should_stop(history) is not None
    assert CalibrationPlateau("ece", patience=2, min_delta=0.0).should_stop(history) is None
    with pytest.raises(ValueError, match="metric='accuracy'"):
        CalibrationPlateau("accuracy")


def test_metric_patience_stops_the_run(clip_dir, color_dataset, test_set):
    learner = make_learner(
        clip_dir, color_dataset, test_set, stopping=[MetricPatience("accuracy", patience=1, min_delta=1.0)]
    )
    learner.run(5, progress=False)
    assert len(learner.history) == 2 and "has not improved" in learner.stop_reason


def test_steps_out_of_order_are_refused_and_the_round_has_one_owner(
    clip_dir, color_dataset, test_set, tmp_path
):
    learner = make_learner(clip_dir, color_dataset, test_set, budget=8)
    with pytest.raises(StepOrderError, match="nothing is labeled yet"):
        learner.fit()
    with pytest.raises(StepOrderError, match="not fitted in this session"):
        learner.end_round()
    query = learner.query()
    learner.teach(query.indices, DatasetOracle(color_dataset)(query.indices))
    with pytest.raises(StepOrderError, match=r"cannot end round 0: .*call fit\(\) before end_round\(\)"):
        learner.end_round()
    assert learner.round == 0 and learner.pool.round == 0 and learner.history == []  # the round stays open
    learner.fit().end_round()
    assert learner.round == learner.pool.round == 1
    learner.end_round()  # nothing new since the last fit: closing another round is fine
    query = learner.query()
    learner.teach(query.indices, DatasetOracle(color_dataset)(query.indices))
    learner.save(tmp_path / "open")  # saved with unfitted labels: still refused after a resume
    with pytest.raises(StepOrderError, match="labels changed since the last fit"):
        ActiveLearner.load(tmp_path / "open", color_dataset, test=test_set).end_round()
    learner.fit().end_round()
    with pytest.raises(BudgetSpentError, match="label budget is spent"):
        learner.query()
