"""Issue #11 on the learner: NaN predictions refuse to query, sessions survive being moved, clear messages when the
pool (not the budget) runs out, and ``alnb strategies`` / ``alnb losses`` describe what they list."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import COLOR_NAMES, color_images
from datasets import ClassLabel, Dataset, Features
from datasets import Image as ImageFeature

from alnb import (
    ActiveLearner,
    DatasetOracle,
    LabelStore,
    NonFinitePredictionsError,
    Pool,
    Trainer,
    TrainerConfig,
)
from alnb._paths import resolve_model_name
from alnb.cli import main
from alnb.losses import available_losses
from alnb.models import load_classifier
from alnb.strategies import available

NAMES = list(COLOR_NAMES)


@pytest.fixture(scope="module")
def test_set() -> Dataset:
    images, labels = color_images(seed=1, per_class=3)
    features = Features({"image": ImageFeature(), "label": ClassLabel(names=NAMES)})
    return Dataset.from_dict({"image": images, "label": labels}, features=features)


def make_learner(model, dataset, test_set, *, store=None, budget=None, indices=None, strategy="entropy+pcb"):
    classifier = load_classifier(model, NAMES, adapter="coop", n_ctx=4)
    trainer = Trainer(TrainerConfig(epochs=2, batch_size=8, lr=0.01, calibration="uc", quiet=True))
    pool = Pool(dataset, NAMES, store=store, indices=indices)
    return ActiveLearner(classifier, pool, trainer, strategy, budget, test=test_set, seed=0)


# ---------------------------------------------------------------------- 3. NaN / inf predictions


@pytest.mark.parametrize("labeled_first", [False, True])
def test_nan_logits_refuse_to_query_and_keep_the_labels(
    clip_dir, color_dataset, test_set, tmp_path, labeled_first
):
    path = tmp_path / "labels.jsonl"
    learner = make_learner(clip_dir, color_dataset, test_set, store=LabelStore(path, NAMES))
    if labeled_first:  # the entropy strategy, after a real round
        query = learner.query()
        learner.teach(query.indices, DatasetOracle(color_dataset)(query.indices))
        learner.fit().end_round()
    labels_before = learner.pool.store.labels
    with torch.no_grad():
        learner.classifier.backbone.logit_scale.fill_(float("nan"))
    with pytest.raises(NonFinitePredictionsError, match=r"logits hold NaN for 64 of 64 pool items") as caught:
        learner.query()
    assert isinstance(caught.value, ValueError)
    assert f"the {len(labels_before)} labels in {path} are kept" in str(caught.value)
    assert LabelStore(path, NAMES).labels == labels_before  # reopened from disk: nothing lost
    assert learner.pool.store.labels == labels_before


def test_inf_in_some_embeddings_names_the_items(clip_dir, color_dataset, test_set):
    learner = make_learner(clip_dir, color_dataset, test_set, strategy="coreset")
    with torch.no_grad():  # a checkpoint with one broken weight
        learner.classifier.backbone.visual_projection.weight[0, 0] = float("inf")
    with pytest.raises(NonFinitePredictionsError, match=r"hold (NaN|inf).* of 64 pool items"):
        learner.query()


# ---------------------------------------------------------------------- 4. sessions that can be moved


def test_a_moved_session_resumes_from_anywhere(clip_dir, color_dataset, test_set, tmp_path, monkeypatch):
    shutil.copytree(clip_dir, tmp_path / "models" / "clip")
    monkeypatch.chdir(tmp_path)
    Path("session").mkdir()
    store = LabelStore(Path("session") / "labels.jsonl", NAMES)
    learner = make_learner("models/clip", color_dataset, test_set, store=store)  # relative, as typed
    learner.run(2, progress=False)
    pending = learner.query()
    learner.save("session")
    state = json.loads(Path("session/learner.json").read_text())
    assert state["store"] == "labels.jsonl"
    assert state["classifier"]["model"] == str((tmp_path / "models" / "clip").resolve())
    assert state["num_labeled"] == 8
    labeled = learner.pool.labeled

    shutil.move(tmp_path / "session", tmp_path / "elsewhere" / "moved")
    (tmp_path / "unrelated").mkdir()
    monkeypatch.chdir(tmp_path / "unrelated")
    resumed = ActiveLearner.load(tmp_path / "elsewhere" / "moved", color_dataset, test=test_set)
    assert resumed.pool.store.path == tmp_path / "elsewhere" / "moved" / "labels.jsonl"
    assert np.array_equal(resumed.pool.labeled, labeled)
    assert np.array_equal(resumed.query().indices, pending.indices)
    resumed.run(1, progress=False)
    assert resumed.num_labeled == 12 and resumed.round == 3
    assert len(LabelStore(tmp_path / "elsewhere" / "moved" / "labels.jsonl", NAMES).labels) == 12
    assert not (tmp_path / "unrelated" / "labels.jsonl").exists()


def test_resume_refuses_a_missing_label_file(clip_dir, color_dataset, test_set, tmp_path):
    learner = make_learner(clip_dir, color_dataset, test_set)
    learner.run(1, progress=False)
    learner.save(tmp_path / "s")
    (tmp_path / "s" / "labels.jsonl").unlink()
    with pytest.raises(FileNotFoundError, match=r"labels\.jsonl .*is missing; expected it to hold 4 labels"):
        ActiveLearner.load(tmp_path / "s", color_dataset, test=test_set)
    assert not (tmp_path / "s" / "labels.jsonl").exists()  # not silently recreated empty


def test_resume_refuses_a_label_file_with_fewer_labels(clip_dir, color_dataset, test_set, tmp_path):
    path = tmp_path / "s" / "labels.jsonl"
    path.parent.mkdir()
    learner = make_learner(clip_dir, color_dataset, test_set, store=LabelStore(path, NAMES))
    learner.run(1, progress=False)
    older = path.read_bytes()
    learner.run(1, progress=False)
    learner.save(tmp_path / "s")
    path.write_bytes(older)  # e.g. restored from an older backup
    with pytest.raises(ValueError, match=r"labels\.jsonl holds 4 labels .*expects 8 labels"):
        ActiveLearner.load(tmp_path / "s", color_dataset, test=test_set)


def test_hub_ids_stay_as_typed_and_folders_become_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("local_model").mkdir()
    assert resolve_model_name("openai/clip-vit-base-patch32") == "openai/clip-vit-base-patch32"
    assert resolve_model_name("local_model") == str(tmp_path.resolve() / "local_model")


# ---------------------------------------------------------------------- 5. messages


def test_an_empty_pool_is_not_called_a_spent_budget(clip_dir, color_dataset, test_set):
    learner = make_learner(clip_dir, color_dataset, test_set, budget=100, indices=np.arange(5))
    learner.teach([0, 1, 2, 3], DatasetOracle(color_dataset)(np.arange(4)))
    learner.pool.skip(4)
    with pytest.raises(ValueError, match="no unlabeled items left") as caught:
        learner.query()
    message = str(caught.value)
    assert "budget is spent" not in message and "budget of 100 is not spent" in message
    assert "4 labeled, 1 skipped" in message
    assert learner.check_stopping() == "unlabeled pool exhausted (4 labeled, 1 skipped)"


def test_a_spent_budget_still_says_so(clip_dir, color_dataset, test_set):
    learner = make_learner(clip_dir, color_dataset, test_set, budget=4)
    learner.teach([0, 1, 2, 3], DatasetOracle(color_dataset)(np.arange(4)))
    with pytest.raises(ValueError, match=r"the label budget is spent \(4 labeled of a budget of 4\)"):
        learner.query()
    assert learner.check_stopping() == "label budget spent"


def test_cli_strategies_describes_each_strategy_and_the_syntax(capsys):
    assert main(["strategies"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    for name in available():
        if name in ("class_balanced", "top_candidates"):
            continue
        (line,) = [line for line in lines if line.split()[:1] == [name]]
        assert len(line.split(maxsplit=1)) == 2, f"{name} has no description"
    assert "PCB (Bang et al., CVPR 2024)" in out  # the class_balanced docstring, listed under +pcb
    assert "+pcb" in out and "@LOSS" in out and "entropy+pcb@uc" in out
    assert ":math:" not in out and "``" not in out


def test_cli_losses_describes_each_loss(capsys):
    assert main(["losses"]) == 0
    out = capsys.readouterr().out
    for name in available_losses():
        (line,) = [line for line in out.splitlines() if line.split()[:1] == [name]]
        assert len(line.split(maxsplit=1)) == 2, f"{name} has no description"
    assert "uncertainty-calibration" in out.lower()
