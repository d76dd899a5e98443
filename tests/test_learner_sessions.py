"""Saved sessions across formats, and the round's one owner (the pool).

``tests/data/session_v1`` holds sessions written by alnb before this format (see its README): they must still resume
with the next query an uninterrupted run made.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import COLOR_NAMES, color_images
from datasets import ClassLabel, Dataset, Features
from datasets import Image as ImageFeature

from alnb import ActiveLearner, DatasetOracle, LabelStore, Pool, StepOrderError, Trainer, TrainerConfig
from alnb.models import load_classifier

NAMES = list(COLOR_NAMES)
FIXTURES = Path(__file__).parent / "data" / "session_v1"


@pytest.fixture(scope="module")
def test_set() -> Dataset:
    images, labels = color_images(seed=1, per_class=6)
    features = Features({"image": ImageFeature(), "label": ClassLabel(names=NAMES)})
    return Dataset.from_dict({"image": images, "label": labels}, features=features)


def _copy(name: str, tmp_path: Path) -> Path:
    """The fixture copied (resuming opens its label file for appending)."""
    return Path(shutil.copytree(FIXTURES / name, tmp_path / name))


def _load(folder: Path, clip_dir: str, dataset: Dataset, test_set: Dataset) -> ActiveLearner:
    # The saved model path was a temporary folder; the same tiny CLIP is passed instead.
    classifier = load_classifier(clip_dir, NAMES, adapter="coop", n_ctx=4)
    return ActiveLearner.load(folder, dataset, test=test_set, classifier=classifier)


def test_format_1_session_saved_after_a_round_ended_resumes_in_the_next_round(
    clip_dir, color_dataset, test_set, tmp_path
):
    folder = _copy("ended", tmp_path)
    state = json.loads((folder / "learner.json").read_text())
    assert state["format"] == 1 and "round" not in state  # written by the code before this change
    learner = _load(folder, clip_dir, color_dataset, test_set)
    # The store's last round is 1 (no label yet in round 2); the round is derived, not looped into step.
    assert learner.pool.store.last_round == 1
    assert learner.round == learner.pool.round == len(learner.history) == 2
    query = learner.query()
    assert query.indices.tolist() == [62, 38, 14, 54] and query.round == 2  # as the uninterrupted run
    learner.teach(query.indices, DatasetOracle(color_dataset)(query.indices))
    assert set(learner.pool.store.labels_in_round(2)) == {62, 38, 14, 54}


def test_format_1_session_with_an_open_round_keeps_its_pending_query_and_step_order(
    clip_dir, color_dataset, test_set, tmp_path
):
    learner = _load(_copy("open", tmp_path), clip_dir, color_dataset, test_set)
    assert learner.round == 2 and learner.num_labeled == 12
    assert learner.pending is not None and learner.pending.indices.tolist() == [62, 38, 14, 54]
    with pytest.raises(StepOrderError, match=r"cannot end round 2: the labels changed since the last fit"):
        learner.end_round()
    assert learner.round == 2 and len(learner.history) == 2  # refused: the round stays open
    learner.fit()
    assert learner.query().indices.tolist() == [3, 63, 51, 59]  # as the uninterrupted run after its fit
    record = learner.end_round()
    assert record["round"] == 2 and record["queried"] == [14, 38, 54, 62]
    assert learner.round == learner.pool.round == 3


def test_format_1_session_saved_before_the_fit_fingerprint(clip_dir, color_dataset, test_set, tmp_path):
    folder = _copy("ended", tmp_path)
    state = json.loads((folder / "learner.json").read_text())
    del state["fitted_on"]  # older still: only the count of fitted labels was kept
    assert state["fitted_labels"] == 8
    (folder / "learner.json").write_text(json.dumps(state))
    learner = _load(folder, clip_dir, color_dataset, test_set)
    assert learner.end_round()["round"] == 2  # fitted on these labels: the round may close


def test_a_session_of_an_unknown_format_is_refused_naming_the_version(
    clip_dir, color_dataset, test_set, tmp_path
):
    folder = _copy("ended", tmp_path)
    state = json.loads((folder / "learner.json").read_text())
    (folder / "learner.json").write_text(json.dumps({**state, "format": 7}))
    with pytest.raises(ValueError, match=r"session of format 7; this alnb reads formats 1 and 2"):
        _load(folder, clip_dir, color_dataset, test_set)


def test_a_saved_session_keeps_the_pools_round_and_layout(clip_dir, color_dataset, test_set, tmp_path):
    path = tmp_path / "labels.jsonl"
    earlier = Pool(color_dataset, NAMES, store=LabelStore(path, NAMES), round=3)
    earlier.label([0, 1], [0, 1])  # labels of an earlier session, recorded in round 3
    assert earlier.store.last_round == 3
    classifier = load_classifier(clip_dir, NAMES, adapter="coop", n_ctx=4)
    trainer = Trainer(TrainerConfig(epochs=1, batch_size=8, quiet=True))
    learner = ActiveLearner(
        classifier,
        Pool(color_dataset, NAMES, store=LabelStore(path, NAMES)),
        trainer,
        "entropy",
        test=test_set,
    )
    assert learner.round == 3 and learner.history == []  # the pool owns the round, restored from the store
    record = learner.step(DatasetOracle(color_dataset))
    assert record["round"] == 3 and len(record["queried"]) == 4 + 2  # round 3's labels, both sessions'
    learner.end_round()  # a round without new labels: nothing in the store says it happened
    learner.save(tmp_path / "s")
    state = json.loads((tmp_path / "s" / "learner.json").read_text())
    assert (state["format"], state["round"], state["image_column"], state["label_column"]) == (
        2,
        5,
        "image",
        "label",
    )
    assert "fitted_labels" not in state
    resumed = _load(tmp_path / "s", clip_dir, color_dataset, test_set)
    assert resumed.round == resumed.pool.round == 5 and resumed.pool.store.last_round == 3
    last = learner.pool.store.actions[-1]
    assert resumed.pool.undo().index == last.index  # the same labeling session: its undo stack survives


def test_a_pool_round_before_the_stores_last_round_is_refused(tmp_path):
    store = LabelStore(tmp_path / "labels.jsonl", NAMES)
    Pool(range(8), NAMES, store=store, round=2).label(5, 0)
    with pytest.raises(ValueError, match=r"round=1 is before the store's last round 2"):
        Pool(range(8), NAMES, store=store, round=1)
    with pytest.raises(ValueError, match=r"round must be a non-negative integer, got -1"):
        Pool(range(8), NAMES, round=-1)
    assert Pool(range(8), NAMES, store=store).round == 2


def test_a_bf16_session_resumes_in_bf16_with_the_same_predictions(clip_dir, color_dataset, test_set, tmp_path):
    import torch

    classifier = load_classifier(clip_dir, NAMES, adapter="coop", n_ctx=4, torch_dtype=torch.bfloat16)
    learner = ActiveLearner(
        classifier,
        Pool(color_dataset, NAMES, store=LabelStore(tmp_path / "labels.jsonl", NAMES)),
        Trainer(TrainerConfig(epochs=1, batch_size=8, quiet=True)),
        "entropy",
        test=test_set,
    )
    learner.step(DatasetOracle(color_dataset))
    before = learner.predict_pool()
    learner.save(tmp_path / "s")
    assert json.loads((tmp_path / "s" / "learner.json").read_text())["classifier"]["torch_dtype"] == "bfloat16"
    resumed = ActiveLearner.load(tmp_path / "s", color_dataset, test=test_set)  # rebuilt from the saved spec
    assert resumed.classifier.backbone_dtype == torch.bfloat16
    after = resumed.predict_pool()
    assert torch.equal(torch.as_tensor(before.logits), torch.as_tensor(after.logits))


class _LabelsDuringFit:
    """A real Trainer whose fit sees a label arrive while it trains (as from a person in another thread)."""

    def __init__(self, pool: Pool, index: int) -> None:
        self.inner = Trainer(TrainerConfig(epochs=1, batch_size=8, quiet=True))
        self.config, self.pool, self.index = self.inner.config, pool, index
        self.fitted_on: list[int] = []

    def fit(self, classifier, dataset, indices, labels):
        self.fitted_on = list(indices)
        self.pool.label(self.index, 0)
        return self.inner.fit(classifier, dataset, indices, labels)

    def predict(self, classifier, dataset, indices, mc_samples=0):
        return self.inner.predict(classifier, dataset, indices, mc_samples=mc_samples)


def test_labels_given_while_a_fit_runs_are_not_claimed_as_trained_on(clip_dir, color_dataset, test_set):
    pool = Pool(color_dataset, NAMES)
    trainer = _LabelsDuringFit(pool, index=63)
    learner = ActiveLearner(load_classifier(clip_dir, NAMES, adapter="coop", n_ctx=4), pool, trainer, "entropy")
    learner.teach([0, 1, 2, 3], [0, 1, 2, 3])
    learner.fit()
    assert 63 not in trainer.fitted_on and 63 in pool.store.labels
    with pytest.raises(StepOrderError, match="the labels changed since the last fit"):
        learner.end_round()
