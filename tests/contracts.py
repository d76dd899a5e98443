"""Contract checks every plug-in honours, generated from the registries (like scikit-learn's parametrize_with_checks).

``check_strategy(strategy)``, ``check_loss(name)`` and ``check_adapter(name, ...)`` run every check of their kind;
``STRATEGY_CHECKS``, ``LOSS_CHECKS`` and ``ADAPTER_CHECKS`` list them one by one, and ``strategy_matrix()``,
``loss_matrix()`` and ``adapter_matrix()`` are the pytest parameters built from what is registered now, so a new
plug-in is tested the moment it registers. A test that defines a plug-in calls the ``check_*`` function directly.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from alnb.losses import CalibratedObjective, get_loss, loss_spec
from alnb.losses.registry import _REGISTRY as LOSS_REGISTRY
from alnb.models import adapter_class, available_adapters, load_classifier
from alnb.models.base import ADAPTER_CONFIG_FILE, Classifier
from alnb.predictions import Predictions
from alnb.strategies import Entropy, QueryContext, Selection, Strategy, available, build_strategy
from alnb.strategies.registry import _is_wrapper, _lookup
from alnb.training import Trainer, TrainerConfig

# ============================================================================================================
# Strategies


def make_predictions(
    indices: np.ndarray,
    num_classes: int = 4,
    dim: int = 6,
    samples: int = 5,
    seed: int = 0,
    embeddings: np.ndarray | None = None,
    probs: np.ndarray | None = None,
) -> Predictions:
    """Predictions from random tensors: softmax probs, Gaussian embeddings, MC samples around the probs."""
    gen = torch.Generator().manual_seed(seed)
    n = len(indices)
    if probs is None:
        logits = 2.0 * torch.randn(n, num_classes, generator=gen, dtype=torch.float64)
        probs_t = logits.softmax(dim=1)
    else:
        probs_t = torch.as_tensor(probs, dtype=torch.float64)
        logits = probs_t.clamp_min(1e-12).log()
    noise = torch.rand(n, num_classes, samples, generator=gen, dtype=torch.float64)
    sample_t = probs_t[:, :, None] * (0.2 + noise)
    sample_t = sample_t / sample_t.sum(dim=1, keepdim=True)
    emb = torch.randn(n, dim, generator=gen) if embeddings is None else torch.as_tensor(embeddings)
    return Predictions(
        indices=np.asarray(indices, dtype=np.int64),
        logits=logits.float(),
        probs=probs_t.float(),
        embeddings=emb.float(),
        prob_samples=sample_t.float(),
    )


def make_pool(seed: int = 0, n: int = 60, num_classes: int = 4) -> tuple[Predictions, QueryContext]:
    """A pool of 60 items with spread-out dataset indices ([1000, 1003, 5000, ...]).

    Prediction rows are shuffled; 12 items are labeled (classes 0..2 only, so class 3 has no label); 3 skipped
    items are in the predictions but in neither set; 45 are unlabeled.
    """
    rng = np.random.default_rng(seed)
    indices = np.concatenate([[1000, 1003, 5000], 5000 + np.cumsum(rng.integers(1, 50, size=n - 3))]).astype(
        np.int64
    )
    rows = rng.permutation(n)
    preds = make_predictions(indices[rows], num_classes=num_classes, seed=seed)
    labeled, skipped, unlabeled = indices[:12], indices[12:15], indices[15:]
    assert len(skipped) == 3
    ctx = QueryContext(
        unlabeled=rng.permutation(unlabeled),
        labeled=labeled,
        labels=np.arange(12) % 3,
        num_classes=num_classes,
        seed=seed,
    )
    return preds, ctx


Pool = tuple[Predictions, QueryContext]


def check_returns_k_distinct_unlabeled_indices(strategy: Strategy, pool: Pool) -> None:
    preds, ctx = pool
    sel = strategy.select(preds, 5, ctx)
    assert isinstance(sel, Selection)
    assert sel.indices.dtype == np.int64 and sel.scores.dtype == np.float64
    assert len(sel.indices) == 5 and len(sel.scores) == 5
    assert len(np.unique(sel.indices)) == 5
    assert set(sel.indices.tolist()) <= set(ctx.unlabeled.tolist())


def check_never_returns_labeled_or_skipped_indices(strategy: Strategy, pool: Pool) -> None:
    preds, ctx = pool
    excluded = set(ctx.labeled.tolist()) | (set(preds.indices.tolist()) - set(ctx.unlabeled.tolist()))
    assert len(excluded) == 15
    for k in (1, 7, len(ctx.unlabeled)):
        assert not excluded & set(strategy.select(preds, k, ctx).indices.tolist())


def check_same_seed_same_result(strategy: Strategy, pool: Pool) -> None:
    preds, ctx = pool
    first, second = strategy.select(preds, 6, ctx), strategy.select(preds, 6, replace(ctx))
    np.testing.assert_array_equal(first.indices, second.indices)
    np.testing.assert_array_equal(first.scores, second.scores)


def check_k_equal_to_pool_size_returns_the_whole_pool(strategy: Strategy, pool: Pool) -> None:
    preds, ctx = pool
    sel = strategy.select(preds, len(ctx.unlabeled), ctx)
    assert sorted(sel.indices.tolist()) == sorted(ctx.unlabeled.tolist())


def check_refuses_k_out_of_range(strategy: Strategy, pool: Pool) -> None:
    preds, ctx = pool
    assert len(ctx.unlabeled) == 45
    for k in (0, -1, 46, 1000):
        with pytest.raises(ValueError, match=rf"k={k}.*45"):
            strategy.select(preds, k, ctx)


def check_refuses_k_that_is_not_an_int(strategy: Strategy, pool: Pool) -> None:
    preds, ctx = pool
    for k in (2.0, "3", True, None):
        with pytest.raises(ValueError, match="k must be an int"):
            strategy.select(preds, k, ctx)  # type: ignore[arg-type]


def check_refuses_empty_pool(strategy: Strategy, pool: Pool) -> None:
    preds, ctx = pool
    with pytest.raises(ValueError, match="pool is empty"):
        strategy.select(preds, 1, replace(ctx, unlabeled=np.zeros(0, dtype=np.int64)))


def check_selection_does_not_depend_on_prediction_row_order(strategy: Strategy, pool: Pool) -> None:
    preds, ctx = pool
    shuffled = preds.subset(np.random.default_rng(7).permutation(preds.indices))
    a, b = strategy.select(preds, 6, ctx), strategy.select(shuffled, 6, ctx)
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_allclose(a.scores, b.scores, rtol=1e-9)


def check_unlabeled_index_without_prediction_is_a_clear_error(strategy: Strategy, pool: Pool) -> None:
    preds, ctx = pool
    bad = replace(ctx, unlabeled=np.append(ctx.unlabeled, 999_999))
    with pytest.raises(ValueError, match=r"context.unlabeled .*999999.*no row in predictions"):
        strategy.select(preds, 3, bad)


def check_class_count_mismatch_is_a_clear_error(strategy: Strategy, pool: Pool) -> None:
    preds, ctx = pool
    with pytest.raises(ValueError, match="num_classes"):
        strategy.select(preds, 3, replace(ctx, num_classes=5))


def check_score_gives_one_float_per_row(strategy: Strategy, pool: Pool) -> None:
    preds, ctx = pool
    scores = strategy.score(preds, ctx)
    assert scores.shape == (len(preds),) and scores.dtype == np.float64
    assert np.all(np.isfinite(scores[preds.positions(ctx.unlabeled)]))


def check_missing_required_field_is_a_clear_error_and_others_are_optional(
    strategy: Strategy, pool: Pool
) -> None:
    preds, ctx = pool
    for field in ("embeddings", "prob_samples"):
        stripped = dataclasses.replace(preds, **{field: None})
        if field in strategy.required_fields():
            with pytest.raises(ValueError, match=field):
                strategy.select(stripped, 3, ctx)
        else:
            assert len(strategy.select(stripped, 3, ctx)) == 3


def check_spec_round_trip(strategy: Strategy, pool: Pool) -> None:
    assert build_strategy(strategy.to_spec()) == strategy


StrategyCheck = Callable[[Strategy, Pool], None]

#: Every check of the strategy contract, in order.
STRATEGY_CHECKS: tuple[StrategyCheck, ...] = (
    check_returns_k_distinct_unlabeled_indices,
    check_never_returns_labeled_or_skipped_indices,
    check_same_seed_same_result,
    check_k_equal_to_pool_size_returns_the_whole_pool,
    check_refuses_k_out_of_range,
    check_refuses_k_that_is_not_an_int,
    check_refuses_empty_pool,
    check_selection_does_not_depend_on_prediction_row_order,
    check_unlabeled_index_without_prediction_is_a_clear_error,
    check_class_count_mismatch_is_a_clear_error,
    check_score_gives_one_float_per_row,
    check_missing_required_field_is_a_clear_error_and_others_are_optional,
    check_spec_round_trip,
)


def contract_strategy(spec: str | type[Strategy] | Strategy) -> Strategy:
    """An instance to run the contract on: a registered name or class is built with its defaults; a wrapper wraps
    entropy, taking half the pool as candidates (so every k up to the whole pool has candidates)."""
    if isinstance(spec, Strategy):
        return spec
    cls = _lookup(spec) if isinstance(spec, str) else spec
    if _is_wrapper(cls):
        return cls(base=Entropy(), gamma=0.5)  # type: ignore[call-arg]
    return cls()


def check_strategy(spec: str | type[Strategy] | Strategy, pool: Pool | None = None) -> None:
    """Run every strategy check on ``spec`` (a registered name, a Strategy class or an instance)."""
    strategy = contract_strategy(spec)
    for check in STRATEGY_CHECKS:
        check(strategy, make_pool() if pool is None else pool)


def strategy_matrix() -> list[Any]:
    """``pytest.param(name, check)`` for every registered strategy and every check."""
    return [
        pytest.param(name, check, id=f"{name}-{check.__name__.removeprefix('check_')}")
        for name in available()
        for check in STRATEGY_CHECKS
    ]


# ============================================================================================================
# Losses


def _batch(seed: int, n: int = 12, c: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    """float64 logits and labels with both right and wrong arg-max predictions."""
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, c, generator=g, dtype=torch.float64) * 2.0
    labels = logits.argmax(dim=1)
    labels = torch.where(torch.arange(n) % 3 == 0, (labels + 1) % c, labels)
    return logits, labels


def _edge_batches() -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    right, _ = _batch(7, 5, 3)
    wrong, _ = _batch(8, 5, 3)
    one, _ = _batch(9, 1, 3)
    return {
        "mixed": _batch(0),
        "all_right": (right, right.argmax(dim=1)),
        "all_wrong": (wrong, (wrong.argmax(dim=1) + 1) % 3),
        "one_right": (one, one.argmax(dim=1)),
        "one_wrong": (one, (one.argmax(dim=1) + 1) % 3),
    }


def check_loss_is_a_finite_scalar_with_finite_gradients(name: str) -> None:
    fn = get_loss(name)
    for case, (logits, labels) in _edge_batches().items():
        for dtype in (torch.float32, torch.float64):
            z = logits.detach().clone().to(dtype).requires_grad_(True)
            loss = fn(z, labels)
            assert isinstance(loss, torch.Tensor) and loss.shape == (), f"{name} on {case}: {loss!r}"
            assert loss.dtype == dtype, f"{name} on {case}: dtype {loss.dtype}, logits {dtype}"
            assert bool(torch.isfinite(loss.detach())), f"{name} on {case}: {float(loss.detach())}"
            if loss.requires_grad:
                loss.backward()
                assert z.grad is not None and bool(torch.isfinite(z.grad).all()), f"{name} on {case}"


def check_loss_rejects_bad_input(name: str) -> None:
    fn = get_loss(name)
    bad = [
        (torch.zeros(3), torch.zeros(3, dtype=torch.long), r"logits must be shaped \[N, C\]"),
        (
            torch.zeros(2, 3, dtype=torch.long),
            torch.zeros(2, dtype=torch.long),
            "logits must be floating point",
        ),
        (torch.zeros(2, 3), torch.tensor([0, 3]), r"labels must lie in \[0, 3\)"),
        (torch.zeros(2, 3), torch.tensor([0]), "labels has 1 entries but there are 2 rows"),
        (torch.zeros(0, 3), torch.zeros(0, dtype=torch.long), "at least one row"),
        (np.zeros((2, 3)), torch.tensor([0, 1]), "logits must be a torch.Tensor"),
    ]
    for logits, labels, match in bad:
        with pytest.raises(ValueError, match=match):
            fn(logits, labels)


def check_loss_trains_in_the_objective(name: str) -> None:
    spec = loss_spec(name)
    objective = CalibratedObjective(name, schedule="constant", weight=0.5)
    logits, labels = _batch(1)
    z = logits.float().requires_grad_(True)
    total = objective(z, labels, epoch=0)
    assert bool(torch.isfinite(total.detach()))
    total.backward()
    assert z.grad is not None and bool(torch.isfinite(z.grad).all()) and float(z.grad.abs().sum()) > 0
    if spec.role == "calibration":  # added to cross-entropy
        with torch.no_grad():
            expected = torch.nn.functional.cross_entropy(z, labels) + 0.5 * spec.fn(z, labels)
        assert float(total.detach()) == pytest.approx(float(expected), rel=1e-5)


def check_loss_is_described(name: str) -> None:
    assert LOSS_REGISTRY.entry(name).description, f"loss {name!r} has no docstring to describe it"


LOSS_CHECKS: tuple[Callable[[str], None], ...] = (
    check_loss_is_a_finite_scalar_with_finite_gradients,
    check_loss_rejects_bad_input,
    check_loss_trains_in_the_objective,
    check_loss_is_described,
)


def check_loss(name: str) -> None:
    """Run every loss check on the registered loss ``name``."""
    for check in LOSS_CHECKS:
        check(name)


def loss_matrix() -> list[Any]:
    """``pytest.param(name, check)`` for every registered loss and every check."""
    return [
        pytest.param(name, check, id=f"{name}-{check.__name__.removeprefix('check_loss_')}")
        for name in LOSS_REGISTRY.names()
        for check in LOSS_CHECKS
    ]


# ============================================================================================================
# Adapters

#: The tiny test models of conftest.model_dirs: (family, model_type).
TEST_MODELS: dict[str, tuple[str, str]] = {
    "clip": ("vision_language", "clip"),
    "vit": ("vision", "vit"),
    "dinov2": ("vision", "dinov2"),
    "siglip": ("vision_language", "siglip"),
}

#: Train on classes 0-3 from the first half of the colour set (dataset rows 0..31); evaluate on the rest.
TRAIN = np.arange(32, dtype=np.int64)
TEST = np.arange(32, 64, dtype=np.int64)


def adapter_pairs(adapters: Sequence[str] | None = None) -> list[tuple[str, str]]:
    """(model, adapter) for every test model and every registered adapter that supports it."""
    return [
        (model, adapter)
        for model, (family, model_type) in TEST_MODELS.items()
        for adapter in available_adapters(family, model_type)
        if adapters is None or adapter in adapters
    ]


def _labels(dataset: Any, indices: np.ndarray) -> np.ndarray:
    return np.asarray(dataset["label"], dtype=np.int64)[indices]


def trainer_config(**overrides: Any) -> TrainerConfig:
    base: dict[str, Any] = {
        "epochs": 6,
        "lr": 0.02,
        "optimizer": "adamw",
        "weight_decay": 0.0,
        "batch_size": 16,
        "warmup_epochs": 0,
        "quiet": True,
    }
    base.update(overrides)
    return TrainerConfig(**base)


def _trainable(clf: Classifier) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in clf.named_parameters() if p.requires_grad}


def _trains(clf: Classifier) -> bool:
    return clf.trainable_parameters()[0] > 0


def check_fit_lowers_loss_and_changes_only_the_adapter(
    model_dir: str, adapter: str, dataset: Any, **_: Any
) -> None:
    names = dataset.features["label"].names
    clf = load_classifier(model_dir, names, adapter=adapter)
    before = {k: v.clone() for k, v in clf.state_dict().items()}
    trainable = {n for n, p in clf.named_parameters() if p.requires_grad}
    trainer = Trainer(trainer_config()).fit(clf, dataset, TRAIN, _labels(dataset, TRAIN))
    after = clf.state_dict()
    assert after.keys() == before.keys()
    if not trainable:  # a fixed adapter (zero-shot): fitting returns at once and changes nothing
        assert not trainer.last_fit_.trained and trainer.last_fit_.epochs == ()
        assert clf.trainable_parameters() == (0, 0.0)
        assert all(torch.equal(v, before[k]) for k, v in after.items())
        return
    losses = trainer.last_fit_.losses
    assert len(losses) == 6 and trainer.last_fit_.trained
    assert losses[-1] < 0.95 * losses[0], losses
    for name, value in after.items():
        if name in trainable:
            assert not torch.equal(value, before[name]), f"{name} did not train"
        else:
            assert torch.equal(value, before[name]), f"frozen {name} changed"


def check_save_load_round_trip(model_dir: str, adapter: str, dataset: Any, tmp_path: Path, **_: Any) -> None:
    names = list(dataset.features["label"].names)
    images = dataset[[int(i) for i in TEST[:8]]]["image"]
    clf = load_classifier(model_dir, names, adapter=adapter)
    Trainer(trainer_config(epochs=2)).fit(clf, dataset, TRAIN, _labels(dataset, TRAIN))
    clf.save_adapter(tmp_path / "adapter")
    assert (tmp_path / "adapter" / ADAPTER_CONFIG_FILE).is_file()
    if adapter == "lora":  # peft's own format
        assert (tmp_path / "adapter" / "adapter_model.safetensors").is_file()
        assert json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())["r"] == 4
    fresh = load_classifier(model_dir, names, adapter=adapter, seed=11)
    x = clf.preprocess(images)
    with torch.no_grad():
        if _trains(clf):
            assert not torch.equal(fresh(pixel_values=x), clf(pixel_values=x))
        fresh.load_adapter(tmp_path / "adapter")
        assert torch.equal(fresh(pixel_values=x), clf(pixel_values=x))
    other_names = load_classifier(model_dir, [*names[:3], "purple"], adapter=adapter)
    with pytest.raises(ValueError, match="class_names: saved"):
        other_names.load_adapter(tmp_path / "adapter")


def check_reset_gives_a_fresh_initialisation(model_dir: str, adapter: str, dataset: Any, **_: Any) -> None:
    names = list(dataset.features["label"].names)
    clf = load_classifier(model_dir, names, adapter=adapter)
    if not _trains(clf):
        return
    Trainer(trainer_config(epochs=2)).fit(clf, dataset, TRAIN, _labels(dataset, TRAIN))
    trained = _trainable(clf)
    clf.reset_adapter(seed=3)
    reset = _trainable(clf)
    fresh = _trainable(load_classifier(model_dir, names, adapter=adapter, seed=3))
    assert reset.keys() == fresh.keys() == trained.keys()
    for name in reset:
        assert torch.equal(reset[name], fresh[name]), name
    assert any(not torch.equal(reset[n], trained[n]) for n in reset)
    clf.reset_adapter(seed=4)
    seeded_differently = _trainable(clf)
    # A linear probe on a CLIP-like model starts from the zero-shot text features: no randomness.
    deterministic = adapter == "linear" and clf.family == "vision_language"
    assert deterministic or any(not torch.equal(reset[n], seeded_differently[n]) for n in reset)


def check_calibration_loss_reaches_the_gradient(model_dir: str, adapter: str, dataset: Any, **_: Any) -> None:
    # The balanced UC loss is 0 on a batch that is all right (or all wrong). Half of the class-1 rows relabeled as
    # class 2 cannot all be fitted (same colour, two labels), so both groups stay non-empty however fast it fits.
    names = list(dataset.features["label"].names)
    labels = _labels(dataset, TRAIN)
    labels[1::8] = (labels[1::8] + 1) % 4
    last_fit = {}
    clf = load_classifier(model_dir, names, adapter=adapter)
    if not _trains(clf):
        return

    def train(**calibration: Any) -> dict[str, torch.Tensor]:
        # Each fit re-initialises the adapter from the trainer's seed, so the runs start alike.
        config = trainer_config(epochs=3, batch_size=32, calibration_schedule="constant", **calibration)
        last_fit["result"] = Trainer(config).fit(clf, dataset, TRAIN, labels).last_fit_
        return _trainable(clf)

    plain = train(calibration="none")
    weightless = train(calibration="uc", calibration_weight=0.0)
    calibrated = train(calibration="uc", calibration_weight=1.0)
    # The premise: some epoch has both right and wrong predictions (else the balanced loss is 0 by definition).
    assert any(0 < epoch.train_error < 1 for epoch in last_fit["result"].epochs)
    assert any(epoch.calibration > 0 for epoch in last_fit["result"].epochs)
    assert all(torch.equal(plain[n], weightless[n]) for n in plain)  # same batches, same seed: a fair control
    assert any(not torch.equal(plain[n], calibrated[n]) for n in plain)


def check_adapter_declares_its_config(model_dir: str, adapter: str, dataset: Any, **_: Any) -> None:
    cls = adapter_class(adapter)
    assert cls.name == adapter and dataclasses.is_dataclass(cls.config_class)
    family, model_type = next(v for v in TEST_MODELS.values() if cls.supports(*v))
    assert adapter in available_adapters(family, model_type)
    clf = load_classifier(model_dir, list(dataset.features["label"].names), adapter=adapter)
    assert type(clf.adapter) is cls and isinstance(clf.adapter.config, cls.config_class)


AdapterCheck = Callable[..., None]

ADAPTER_CHECKS: tuple[AdapterCheck, ...] = (
    check_adapter_declares_its_config,
    check_fit_lowers_loss_and_changes_only_the_adapter,
    check_save_load_round_trip,
    check_reset_gives_a_fresh_initialisation,
    check_calibration_loss_reaches_the_gradient,
)


def check_adapter(name: str, model_dirs: dict[str, str], dataset: Any, tmp_path: Path) -> None:
    """Run every adapter check on adapter ``name`` with every test model it supports."""
    pairs = [(model, adapter) for model, adapter in adapter_pairs() if adapter == name]
    assert pairs, f"adapter {name!r} supports none of the test models {sorted(TEST_MODELS)}"
    for model, adapter in pairs:
        for i, check in enumerate(ADAPTER_CHECKS):
            check(model_dirs[model], adapter, dataset, tmp_path=tmp_path / f"{model}-{i}")


def adapter_matrix(checks: Sequence[AdapterCheck] = ADAPTER_CHECKS) -> list[Any]:
    """``pytest.param(model, adapter, check)`` for every test model, every registered adapter supporting it and
    every check."""
    return [
        pytest.param(model, adapter, check, id=f"{model}-{adapter}-{check.__name__.removeprefix('check_')}")
        for model, adapter in adapter_pairs()
        for check in checks
    ]
