"""Class-guided cluster-balanced acquisition (cb) and selective querying (cbsq): features, allocation, thresholds,
the learner's pseudo-labels, the method names and a tiny study."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
from conftest import COLOR_NAMES, color_images
from contracts import check_strategy, make_pool
from datasets import ClassLabel, Dataset, Features
from datasets import Image as ImageFeature

from alnb import ActiveLearner, Pool, Trainer, TrainerConfig
from alnb.experiment import parse_method
from alnb.learner import Query
from alnb.models import load_classifier
from alnb.predictions import Predictions
from alnb.strategies import (
    ClusterBalanced,
    QueryContext,
    SelectiveClusterBalanced,
    available,
    build_strategy,
)
from alnb.strategies.cb import class_guided_features, class_thresholds
from alnb.studies import run_study, summarize
from alnb.studies.study import Study

NAMES = list(COLOR_NAMES)


def blobs(sizes, num_classes=2, dim=8, seed=0, spread=0.05):
    """Well-separated Gaussian blobs (blob b around axis b), blob b predicted as class b % C with confidence 0.9.

    Dataset indices are ``10 * position + 3``; returns the predictions and each item's blob.
    """
    rng = np.random.default_rng(seed)
    blob = np.repeat(np.arange(len(sizes)), sizes)
    emb = np.eye(dim)[blob] * 10 + rng.normal(0, spread, (len(blob), dim))
    probs = np.full((len(blob), num_classes), 0.1 / (num_classes - 1))
    probs[np.arange(len(blob)), blob % num_classes] = 0.9
    preds = Predictions(
        indices=np.arange(len(blob), dtype=np.int64) * 10 + 3,
        logits=torch.as_tensor(np.log(probs)).float(),
        probs=torch.as_tensor(probs).float(),
        embeddings=torch.as_tensor(emb).float(),
    )
    return preds, blob


def ctx_of(preds, labeled=(), labels=(), num_classes=2, seed=0):
    labeled = np.asarray(labeled, dtype=np.int64)
    return QueryContext(
        unlabeled=np.setdiff1d(preds.indices, labeled),
        labeled=labeled,
        labels=np.asarray(labels, dtype=np.int64),
        num_classes=num_classes,
        seed=seed,
    )


def nearest_to_centre(preds, blob, b):
    feats = class_guided_features(preds)
    members = np.flatnonzero(blob == b)
    centre = feats[members].mean(axis=0)
    return int(preds.indices[members[np.argmin(np.linalg.norm(feats[members] - centre, axis=1))]])


# ---------------------------------------------------------------- class-guided features


def test_class_guided_features_by_hand_with_and_without_text_features():
    probs = torch.tensor([[0.75, 0.25], [0.0, 1.0]])
    emb = torch.tensor([[2.0, 0.0, 0.0], [0.0, 0.0, 5.0]])
    text = torch.tensor([[0.0, 3.0, 0.0], [0.0, 0.0, 2.0]])  # normalised: e2, e3
    preds = Predictions(np.array([4, 8]), probs.log(), probs, embeddings=emb, text_features=text)
    guided = np.array([0.0, 0.75, 0.25])  # 0.75 e2 + 0.25 e3
    first = np.concatenate([[1.0, 0.0, 0.0], guided])
    np.testing.assert_allclose(class_guided_features(preds)[0], first / np.linalg.norm(first), rtol=1e-6)
    second = np.array([0, 0, 1, 0, 0, 1.0]) / np.sqrt(2)
    np.testing.assert_allclose(class_guided_features(preds)[1], second, rtol=1e-6, atol=1e-7)
    # Without text features the class prototypes are the standard basis: the second half is p itself.
    plain = replace(preds, text_features=None)
    expected = np.concatenate([[1.0, 0.0, 0.0], [0.75, 0.25]])
    np.testing.assert_allclose(
        class_guided_features(plain)[0], expected / np.linalg.norm(expected), rtol=1e-6
    )
    np.testing.assert_allclose(np.linalg.norm(class_guided_features(preds, np.array([1])), axis=1), 1.0)


def test_text_features_must_have_one_row_per_class():
    probs = torch.full((2, 3), 1 / 3)
    with pytest.raises(ValueError, match=r"text_features must be shaped \[C, d\] with C = 3"):
        Predictions(np.array([0, 1]), probs.log(), probs, text_features=torch.zeros(2, 4))


def test_trainer_predictions_carry_the_classifiers_text_features(clip_dir, color_dataset):
    classifier = load_classifier(clip_dir, NAMES, adapter="coop", n_ctx=4)
    preds = Trainer(TrainerConfig(quiet=True)).predict(classifier, color_dataset, np.arange(8))
    assert preds.text_features is not None and preds.text_features.shape == (4, preds.embeddings.shape[1])
    with torch.no_grad():
        np.testing.assert_allclose(
            preds.text_features.numpy(), classifier.class_text_features().numpy(), rtol=1e-5
        )
    assert preds.subset([3, 1]).text_features is preds.text_features


# ---------------------------------------------------------------- cluster-balanced acquisition


def test_registered_and_through_the_contract_with_other_parameters():
    assert {"cb", "cbsq"} <= set(available())
    assert build_strategy("cb") == ClusterBalanced()
    assert build_strategy("cbsq(max_pseudo=2.0)") == SelectiveClusterBalanced(max_pseudo=2.0)
    # MiniBatchKMeans path (any pool above 10 items) and a smaller cluster count, under the same contract.
    check_strategy(ClusterBalanced(clusters_per_class=1, minibatch_above=10))
    check_strategy(SelectiveClusterBalanced(clusters_per_class=2, min_threshold=0.5, max_pseudo=0.5))


def test_round_zero_takes_the_centre_of_each_cluster_largest_first():
    sizes = [60, 40, 30, 20]
    preds, blob = blobs(sizes, num_classes=4)
    strategy = ClusterBalanced(clusters_per_class=1)  # 4 clusters: the 4 blobs
    sel = strategy.select(preds, 4, ctx_of(preds, num_classes=4))
    assert sel.indices.tolist() == [nearest_to_centre(preds, blob, b) for b in range(4)]
    assert np.all(sel.scores <= 0)  # minus the distance to the centroid
    # As a cold start of a learner, too: cb works with no labels at all.
    assert parse_method("entropy+pcb/cb").initial_strategy == "cb"


def test_later_rounds_fill_the_clusters_with_the_smallest_labeled_share():
    # C = 2, 2 clusters per class + 2 labels = 6 clusters: the 6 blobs. Blobs 0 and 2 hold one label each.
    sizes = [50, 40, 30, 20, 12, 10]
    preds, blob = blobs(sizes, num_classes=2)
    first_of = [int(preds.indices[np.flatnonzero(blob == b)[0]]) for b in range(6)]
    ctx = ctx_of(preds, labeled=[first_of[0], first_of[2]], labels=[0, 0])
    strategy = ClusterBalanced(clusters_per_class=2)
    centres = [nearest_to_centre(preds, blob, b) for b in range(6)]
    # Unlabeled clusters by size (1, 3, 4, 5), then the smallest share: blob 0 (1/50) before blob 2 (1/30).
    sel = strategy.select(preds, 5, ctx)
    assert sel.indices.tolist()[:4] == [centres[b] for b in (1, 3, 4, 5)]
    assert blob[preds.positions(sel.indices[4:])].tolist() == [0]
    # The same seed gives the same queries; the order of the prediction rows does not matter.
    shuffled = preds.subset(np.random.default_rng(3).permutation(preds.indices))
    assert strategy.select(shuffled, 5, replace(ctx)).indices.tolist() == sel.indices.tolist()


def test_more_clusters_as_labels_accumulate():
    preds, ctx = make_pool()  # 4 classes, 12 labeled, 45 unlabeled
    strategy = ClusterBalanced()
    assert strategy._cluster(preds, preds.positions(ctx.unlabeled), ctx).n_clusters == 4 * 4 + 12
    cold = replace(ctx, unlabeled=np.concatenate([ctx.unlabeled, ctx.labeled]), labeled=[], labels=[])
    assert strategy._cluster(preds, preds.positions(cold.unlabeled), cold).n_clusters == 16


def test_bad_parameters_are_clear_errors():
    preds, ctx = make_pool()
    with pytest.raises(ValueError, match=r"ClusterBalanced.clusters_per_class must be a positive int, got 0"):
        ClusterBalanced(clusters_per_class=0).select(preds, 3, ctx)
    with pytest.raises(ValueError, match=r"min_threshold must be a number in \[0, 1\], got 1.5"):
        SelectiveClusterBalanced(min_threshold=1.5).select_selectively(preds, 3, ctx)
    with pytest.raises(ValueError, match=r"max_pseudo must be a finite number >= 0, got inf"):
        SelectiveClusterBalanced(max_pseudo=float("inf")).select_selectively(preds, 3, ctx)
    with pytest.raises(ValueError, match=r"k=46 is out of range"):
        SelectiveClusterBalanced().select_selectively(preds, 46, ctx)


# ---------------------------------------------------------------- selective querying


def selective_pool():
    """8 items in two classes; labeled: two of class 0 (p_0 = 0.8, 0.6: τ_0 = 0.7), none of class 1."""
    probs = np.array(
        [
            [0.8, 0.2],
            [0.6, 0.4],
            [0.95, 0.05],
            [0.9, 0.1],
            [0.65, 0.35],
            [0.2, 0.8],
            [0.05, 0.95],
            [0.72, 0.28],
        ]
    )
    emb = np.random.default_rng(0).normal(size=(8, 4))
    preds = Predictions(
        np.arange(8, dtype=np.int64) + 100,
        torch.as_tensor(np.log(probs)).float(),
        torch.as_tensor(probs).float(),
        embeddings=torch.as_tensor(emb).float(),
    )
    return preds, ctx_of(preds, labeled=[100, 101], labels=[0, 0])


def test_class_thresholds_are_the_mean_own_class_probability_of_labeled_items():
    preds, ctx = selective_pool()
    np.testing.assert_allclose(class_thresholds(preds, ctx), [0.7, np.inf], rtol=1e-6)


def test_confident_items_get_the_models_label_and_k_items_still_go_to_a_person():
    preds, ctx = selective_pool()
    strategy = SelectiveClusterBalanced()  # 4 · 2 + 2 = 8 clusters of the 8 items
    out = strategy.select_selectively(preds, 2, ctx)
    order = strategy.select(preds, 6, ctx).indices.tolist()  # the acquisition order
    trusted = {102, 103, 107}  # predicted 0 with confidence > 0.7; class 1 has no label, so never trusted
    assert len(out.human) == 2 and not set(out.human.indices.tolist()) & trusted
    assert set(out.pseudo_indices.tolist()) <= trusted and out.pseudo_labels.tolist() == [0] * len(
        out.pseudo_indices
    )
    np.testing.assert_allclose(out.pseudo_confidence, preds.confidence[preds.positions(out.pseudo_indices)])
    # Walked in order: every trusted item before the last human pick is pseudo-labeled, at most k of them.
    walked = order[: order.index(int(out.human.indices[-1])) + 1]
    assert sorted(out.pseudo_indices.tolist()) == sorted(i for i in walked if i in trusted)[:2]
    assert [i for i in walked if i not in trusted] == out.human.indices.tolist()
    # Caps and floors.
    assert len(SelectiveClusterBalanced(max_pseudo=0.5).select_selectively(preds, 2, ctx).pseudo_indices) <= 1
    assert (
        len(SelectiveClusterBalanced(min_threshold=0.99).select_selectively(preds, 2, ctx).pseudo_indices)
        == 0
    )
    off = SelectiveClusterBalanced(max_pseudo=0).select_selectively(preds, 2, ctx)
    assert off.human.indices.tolist() == strategy.select(preds, 2, ctx).indices.tolist()
    assert len(off.pseudo_indices) == 0
    # No label at all (round 0): nothing is trusted.
    cold = ctx_of(preds)
    assert len(strategy.select_selectively(preds, 3, cold).pseudo_indices) == 0


# ---------------------------------------------------------------- the learner writes pseudo-labels


@pytest.fixture(scope="module")
def test_set() -> Dataset:
    images, labels = color_images(seed=1, per_class=6)
    features = Features({"image": ImageFeature(), "label": ClassLabel(names=NAMES)})
    return Dataset.from_dict({"image": images, "label": labels}, features=features)


def make_learner(clip_dir, dataset, test_set, strategy="cbsq(max_pseudo=2.0)", **kw):
    classifier = load_classifier(clip_dir, NAMES, adapter="coop", n_ctx=4)
    trainer = Trainer(TrainerConfig(epochs=3, batch_size=8, lr=0.02, seed=0, quiet=True))
    pool = Pool(dataset, NAMES)
    return ActiveLearner(
        classifier,
        pool,
        trainer,
        strategy,
        kw.pop("budget", None),
        test=test_set,
        initial_strategy="cb",
        **kw,
    )


@pytest.mark.slow
def test_selective_learner_pseudo_labels_without_spending_budget(clip_dir, color_dataset, test_set):
    learner = make_learner(clip_dir, color_dataset, test_set)
    history = learner.run(4, progress=False)
    store = learner.pool.store
    assert [r["num_labeled"] for r in history] == [4, 8, 12, 16]  # human labels only: k = 4 each round
    assert history[0]["strategy"] == "cb" and history[1]["strategy"] == "cbsq"
    pseudo = store.pseudo_labels
    assert sum(r["pseudo_labeled"] for r in history) == len(pseudo) == history[-1]["pseudo_total"] > 0
    assert len(store.labels) == 16 + len(pseudo) == learner.num_labeled
    truth = np.asarray(color_dataset["label"])
    assert sum(r["pseudo_correct"] for r in history) == sum(int(truth[i] == c) for i, c in pseudo.items())
    for i in pseudo:
        action = store.current_action(i)
        assert action.pseudo and action.annotator == "model"
        assert i not in {q for r in history for q in r["queried"]}  # never shown to the oracle as a query
    assert all(len(r["queried"]) == 4 and sum(r["queried_class_histogram"]) == 4 for r in history)
    assert len(store.to_records()) == 16 and len(store.to_records(include_pseudo=True)) == 16 + len(pseudo)
    # Reversible: unlabeling a pseudo-label returns the item to the pool.
    first = next(iter(pseudo))
    learner.pool.unlabel(first)
    assert first in learner.pool.unlabeled and first not in store.pseudo_labels
    # Same seed, same queries and pseudo-labels.
    again = make_learner(clip_dir, color_dataset, test_set).run(4, progress=False)
    assert [(r["queried"], r["pseudo_labeled"]) for r in again] == [
        (r["queried"], r["pseudo_labeled"]) for r in history
    ]


def test_query_keeps_its_pseudo_labels_through_a_dict_and_old_dicts_have_none():
    query = Query(
        indices=np.array([5, 2]),
        scores=np.array([-0.1, np.nan]),
        predicted=np.array([1, 0]),
        confidence=np.array([0.4, 0.6]),
        round=3,
        strategy="cbsq",
        pseudo_indices=np.array([9, 7]),
        pseudo_labels=np.array([0, 1]),
    )
    data = query.to_dict()
    back = Query.from_dict(data)
    assert back.pseudo_indices.tolist() == [9, 7] and back.pseudo_labels.tolist() == [0, 1]
    assert back.indices.tolist() == [5, 2] and back.round == 3
    old = {k: v for k, v in data.items() if not k.startswith("pseudo")}
    assert len(Query.from_dict(old).pseudo_indices) == 0
    assert "pseudo_indices" not in replace(query, pseudo_indices=np.zeros(0, np.int64)).to_dict()


@pytest.mark.slow
def test_a_saved_selective_session_resumes_with_its_pending_query(
    clip_dir, color_dataset, test_set, tmp_path
):
    learner = make_learner(clip_dir, color_dataset, test_set)
    learner.run(3, progress=False)
    pending = learner.query()
    learner.save(tmp_path / "session")
    back = ActiveLearner.load(tmp_path / "session", color_dataset, test=test_set)
    assert back.pending.to_dict() == pending.to_dict()
    assert back.pool.store.pseudo_labels == learner.pool.store.pseudo_labels
    assert back.num_human_labeled == learner.num_human_labeled == 12
    assert back.strategy == SelectiveClusterBalanced(max_pseudo=2.0)


@pytest.mark.slow
def test_budget_counts_human_labels_only(clip_dir, color_dataset, test_set):
    learner = make_learner(clip_dir, color_dataset, test_set, budget=10)
    history = learner.run(10, progress=False)
    assert history[-1]["num_labeled"] == 10 and learner.num_human_labeled == 10
    assert learner.stop_reason == "label budget spent"
    assert learner.num_labeled == 10 + len(learner.pool.store.pseudo_labels)


# ---------------------------------------------------------------- methods and studies


def test_method_names_start_cluster_balanced():
    cb, cbsq = parse_method("cb"), parse_method("cbsq")
    assert (cb.strategy, cb.initial_strategy, cb.calibration) == ("cb", "cb", "none")
    assert (cbsq.strategy, cbsq.initial_strategy) == ("cbsq", "cb")
    assert parse_method("cb/random").initial_strategy == "random"
    assert parse_method("cbsq@uc").calibration == "uc"
    assert parse_method("recommended").initial_strategy == "typiclust"


@pytest.mark.slow
def test_a_tiny_study_runs_cb_and_cbsq(tmp_path):
    study = Study(
        "cb-tiny", "Do cb and cbsq run in a study?", ("cb", "cbsq"), ("coop",), ("digits",), ("cb",)
    )
    histories = run_study(
        study, seeds=[0], rounds=2, pool_size=120, test_size=60, out=tmp_path, progress=False
    )
    runs = {r["method"]: r for r in histories["runs"]}
    assert runs["cb"]["initial_strategy"] == "cb" and runs["cbsq"]["initial_strategy"] == "cb"
    assert [r["num_labeled"] for r in runs["cbsq"]["history"]] == [10, 20]
    assert "pseudo_labeled" in runs["cbsq"]["history"][-1]
    assert runs["cb"]["history"][0]["queried"] == runs["cbsq"]["history"][0]["queried"]  # same cold start
    summary = summarize(histories)["tasks"]["digits"]["methods"]
    pseudo = summary["cbsq [coop]"]["pseudo_labels"]
    assert pseudo["per_run"] == sum(r["pseudo_labeled"] for r in runs["cbsq"]["history"])
    assert "pseudo_labels" not in summary["cb [coop]"]
    assert "Selective querying, cbsq [coop]:" in (tmp_path / "report.md").read_text()
