"""Tests of alnb.losses: values against numpy re-computations of the formulas, gradients, registry."""

from __future__ import annotations

import dataclasses
import doctest
import importlib
import math
from collections.abc import Callable

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from contracts import loss_matrix

from alnb.losses import (
    AnnealSchedule,
    CalibratedObjective,
    ConstantSchedule,
    LossParts,
    anneal_schedule,
    available_losses,
    avuc_loss,
    constant_schedule,
    cross_entropy_loss,
    focal_loss,
    get_loss,
    label_smoothing_loss,
    loss_spec,
    make_schedule,
    mmce_loss,
    register_loss,
    uncertainty_calibration_loss,
)
from alnb.losses import registry as registry_module

# ---------------------------------------------------------------- numpy references, written from the formulas


def np_softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def uc_reference(logits: np.ndarray, labels: np.ndarray, balanced: bool) -> float:
    p = np_softmax(logits)
    t = np.tanh(-(p * np.log(p + 1e-6)).sum(axis=1))
    right = p.argmax(axis=1) == labels
    n_c, n_i = int(right.sum()), int((~right).sum())
    l_corr = float(np.mean(-np.log(1 - t[right] + 1e-6))) if n_c else 0.0
    l_incorr = float(np.mean(-np.log(t[~right] + 1e-6))) if n_i else 0.0
    if balanced:
        loss = n_i / (n_c + n_i) * l_corr + n_c / (n_c + n_i) * l_incorr
    else:
        loss = l_corr + l_incorr
    return 0.0 if math.isnan(loss) else min(loss, 5.0)


def avuc_reference(logits: np.ndarray, labels: np.ndarray, threshold: float | None, beta: float) -> float:
    p = np_softmax(logits)
    h = -(p * np.log(p + 1e-10)).sum(axis=1)
    tau = h.mean() if threshold is None else threshold
    n_ac = n_au = n_ic = n_iu = 0.0
    for i in range(len(labels)):  # a plain loop over samples, independent of the vectorised code
        conf, t = p[i].max(), math.tanh(h[i])
        right, certain = p[i].argmax() == labels[i], h[i] <= tau
        if right and certain:
            n_ac += conf * (1 - t)
        elif right:
            n_au += conf * t
        elif certain:
            n_ic += (1 - conf) * (1 - t)
        else:
            n_iu += (1 - conf) * t
    avu = (n_ac + n_iu) / (n_ac + n_au + n_ic + n_iu + 1e-10)
    return -beta * math.log(avu + 1e-10)


def mmce_reference(logits: np.ndarray, labels: np.ndarray, width: float = 0.4) -> float:
    p = np_softmax(logits)
    r = p.max(axis=1)
    c = (p.argmax(axis=1) == labels).astype(float)
    n = len(labels)
    total = sum(
        (c[i] - r[i]) * (c[j] - r[j]) * math.exp(-abs(r[i] - r[j]) / width)
        for i in range(n)
        for j in range(n)
    )
    return math.sqrt(max(total / n**2, 1e-12))


def focal_reference(logits: np.ndarray, labels: np.ndarray, gamma: float | str) -> float:
    p = np_softmax(logits)[np.arange(len(labels)), labels]
    if gamma == "flsd53":
        g = np.where(p < 0.2, 5.0, 3.0)
    else:
        g = np.full_like(p, float(gamma))
    return float(np.mean(-((1 - p) ** g) * np.log(p)))


def label_smoothing_reference(logits: np.ndarray, labels: np.ndarray, s: float) -> float:
    log_p = np.log(np_softmax(logits))
    n, c = log_p.shape
    per_row = -(1 - s) * log_p[np.arange(n), labels] - s / c * log_p.sum(axis=1)
    return float(per_row.mean())


def batch(seed: int, n: int = 12, c: int = 4, scale: float = 2.0) -> tuple[torch.Tensor, torch.Tensor]:
    """float64 logits and labels with both right and wrong arg-max predictions."""
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, c, generator=g, dtype=torch.float64) * scale
    labels = logits.argmax(dim=1)
    flip = torch.arange(n) % 3 == 0  # every third row is wrong
    labels = torch.where(flip, (labels + 1) % c, labels)
    return logits, labels


def all_right(n: int = 5, c: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    logits, _ = batch(7, n, c)
    return logits, logits.argmax(dim=1)


def all_wrong(n: int = 5, c: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    logits, _ = batch(8, n, c)
    return logits, (logits.argmax(dim=1) + 1) % c


EDGE_BATCHES = {
    "mixed": batch(0),
    "all_right": all_right(),
    "all_wrong": all_wrong(),
    "one_right": all_right(n=1),
    "one_wrong": all_wrong(n=1),
}


# ---------------------------------------------------------------- L_UC


@pytest.mark.parametrize("balanced", [True, False])
@pytest.mark.parametrize("case", list(EDGE_BATCHES))
def test_uc_matches_formula(case: str, balanced: bool) -> None:
    logits, labels = EDGE_BATCHES[case]
    value = float(uncertainty_calibration_loss(logits, labels, balanced=balanced))
    assert value == pytest.approx(
        uc_reference(logits.numpy(), labels.numpy(), balanced), rel=1e-10, abs=1e-12
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_uc_random_batches(seed: int) -> None:
    logits, labels = batch(seed, n=40, c=6, scale=1.0)
    for balanced in (True, False):
        expected = uc_reference(logits.numpy(), labels.numpy(), balanced)
        assert float(uncertainty_calibration_loss(logits, labels, balanced)) == pytest.approx(
            expected, rel=1e-10
        )


def test_uc_balanced_is_zero_when_a_group_is_empty() -> None:
    # w_c = |I| / N is 0 without wrong rows and L_incorr is 0 (empty group); symmetrically for all wrong.
    for logits, labels in (all_right(), all_wrong(), all_right(n=1)):
        assert float(uncertainty_calibration_loss(logits, labels)) == 0.0


def test_uc_batch_of_one_unbalanced_hand_value() -> None:
    # p = (0.8, 0.2), right: H = -(.8 ln(.8 + 1e-6) + .2 ln(.2 + 1e-6)), L = -ln(1 - tanh H + 1e-6).
    logits = torch.tensor([[math.log(4.0), 0.0]], dtype=torch.float64)
    h = -(0.8 * math.log(0.8 + 1e-6) + 0.2 * math.log(0.2 + 1e-6))
    expected = -math.log(1 - math.tanh(h) + 1e-6)
    assert float(uncertainty_calibration_loss(logits, torch.tensor([0]), balanced=False)) == pytest.approx(
        expected
    )


def test_uc_is_capped_at_five() -> None:
    # Confidently wrong rows: tanh(H) is about 5e-4, so -ln(tanh H) is about 7.6 before the cap.
    logits = torch.tensor([[10.0, 0.0], [0.0, 10.0]], dtype=torch.float64, requires_grad=True)
    loss = uncertainty_calibration_loss(logits, torch.tensor([1, 0]), balanced=False)
    assert loss.item() == 5.0
    loss.backward()
    assert torch.equal(logits.grad, torch.zeros_like(logits))


def test_uc_nan_becomes_zero() -> None:
    logits = torch.tensor([[float("nan"), 0.0], [1.0, 0.0]])
    assert float(uncertainty_calibration_loss(logits, torch.tensor([0, 1]))) == 0.0


def test_uc_unbalanced_registry_entry() -> None:
    logits, labels = batch(4)
    assert float(get_loss("uc_unbalanced")(logits, labels)) == pytest.approx(
        uc_reference(logits.numpy(), labels.numpy(), balanced=False)
    )


# ---------------------------------------------------------------- AvUC, MMCE, focal, label smoothing


@pytest.mark.parametrize("threshold", [None, 0.3, 1.0])
@pytest.mark.parametrize("beta", [1.0, 3.0])
@pytest.mark.parametrize("case", list(EDGE_BATCHES))
def test_avuc_matches_formula(case: str, threshold: float | None, beta: float) -> None:
    logits, labels = EDGE_BATCHES[case]
    value = float(avuc_loss(logits, labels, threshold=threshold, beta=beta))
    expected = avuc_reference(logits.numpy(), labels.numpy(), threshold, beta)
    assert value == pytest.approx(expected, rel=1e-9)


def test_avuc_zero_ratio_is_not_silently_zero() -> None:
    # All right and all uncertain (threshold 0): n_AC = n_IU = 0, so AvU = 0 and the loss is -ln(1e-10).
    logits, labels = all_right()
    assert float(avuc_loss(logits, labels, threshold=0.0)) == pytest.approx(-math.log(1e-10))


def test_avuc_rejects_negative_beta_and_threshold() -> None:
    logits, labels = batch(0)
    with pytest.raises(ValueError, match="beta must be a finite non-negative number, got -1"):
        avuc_loss(logits, labels, beta=-1.0)
    with pytest.raises(ValueError, match="threshold must be a finite non-negative number"):
        avuc_loss(logits, labels, threshold=-0.1)


@pytest.mark.parametrize("case", list(EDGE_BATCHES))
def test_mmce_matches_formula(case: str) -> None:
    logits, labels = EDGE_BATCHES[case]
    assert float(mmce_loss(logits, labels)) == pytest.approx(mmce_reference(logits.numpy(), labels.numpy()))


def test_mmce_kernel_width_and_hand_value() -> None:
    # One right row at confidence 0.8: MMCE = |1 - 0.8|.
    logits = torch.tensor([[math.log(4.0), 0.0]], dtype=torch.float64)
    assert float(mmce_loss(logits, torch.tensor([0]))) == pytest.approx(0.2)
    logits, labels = batch(5)
    assert float(mmce_loss(logits, labels, kernel_width=0.1)) == pytest.approx(
        mmce_reference(logits.numpy(), labels.numpy(), width=0.1)
    )
    with pytest.raises(ValueError, match="kernel_width must be positive"):
        mmce_loss(logits, labels, kernel_width=0.0)


@pytest.mark.parametrize("gamma", [0.0, 1.0, 3.0, "flsd53"])
@pytest.mark.parametrize("case", list(EDGE_BATCHES))
def test_focal_matches_formula(case: str, gamma: float | str) -> None:
    logits, labels = EDGE_BATCHES[case]
    expected = focal_reference(logits.numpy(), labels.numpy(), gamma)
    assert float(focal_loss(logits, labels, gamma=gamma)) == pytest.approx(expected, rel=1e-10)


def test_focal_gamma_zero_is_cross_entropy_and_flsd53_registered() -> None:
    logits, labels = batch(6)
    assert float(focal_loss(logits, labels, gamma=0)) == pytest.approx(float(F.cross_entropy(logits, labels)))
    assert float(get_loss("flsd53")(logits, labels)) == pytest.approx(
        focal_reference(logits.numpy(), labels.numpy(), "flsd53")
    )
    # Rows below p = 0.2 use gamma 5: the batch must hold such rows for the check above to mean much.
    p_true = torch.softmax(logits, 1).gather(1, labels[:, None])
    assert bool((p_true < 0.2).any()) and bool((p_true >= 0.2).any())


@pytest.mark.parametrize("gamma", [-1.0, "flsd", None])
def test_focal_rejects_bad_gamma(gamma) -> None:
    logits, labels = batch(0)
    with pytest.raises(ValueError, match="gamma must be"):
        focal_loss(logits, labels, gamma=gamma)


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.5])
@pytest.mark.parametrize("case", list(EDGE_BATCHES))
def test_label_smoothing_matches_formula(case: str, smoothing: float) -> None:
    logits, labels = EDGE_BATCHES[case]
    expected = label_smoothing_reference(logits.numpy(), labels.numpy(), smoothing)
    assert float(label_smoothing_loss(logits, labels, smoothing)) == pytest.approx(expected, rel=1e-10)


def test_label_smoothing_rejects_bad_smoothing() -> None:
    logits, labels = batch(0)
    with pytest.raises(ValueError, match=r"smoothing must lie in \[0, 1\], got 1.5"):
        label_smoothing_loss(logits, labels, smoothing=1.5)


# ---------------------------------------------------------------- gradients

GRADCHECK_LOSSES = {
    "uc": lambda z, y: uncertainty_calibration_loss(z, y),
    "uc_unbalanced": lambda z, y: uncertainty_calibration_loss(z, y, balanced=False),
    "avuc": lambda z, y: avuc_loss(z, y, threshold=0.8),
    "avuc_batch_threshold": lambda z, y: avuc_loss(z, y),
    "mmce": lambda z, y: mmce_loss(z, y),
    "focal": lambda z, y: focal_loss(z, y, gamma=3.0),
    "flsd53": lambda z, y: focal_loss(z, y, gamma="flsd53"),
    "label_smoothing": lambda z, y: label_smoothing_loss(z, y, 0.1),
}


@pytest.mark.parametrize("name", list(GRADCHECK_LOSSES))
@pytest.mark.parametrize("seed", [0, 1])
def test_gradcheck(name: str, seed: int) -> None:
    logits, labels = batch(seed, n=8, c=3, scale=1.0)
    logits.requires_grad_(True)
    fn = GRADCHECK_LOSSES[name]
    assert torch.autograd.gradcheck(lambda z: fn(z, labels), (logits,), eps=1e-6, atol=1e-5)


#: Every registered loss but the empty term (which has no gradient by design).
WITH_GRADIENT = [name for name in available_losses() if name != "none"]


@pytest.mark.parametrize("name", WITH_GRADIENT)
def test_gradients_flow_to_logits(name: str) -> None:
    logits, labels = batch(3)
    logits = logits.float().requires_grad_(True)
    get_loss(name)(logits, labels).backward()
    assert logits.grad is not None
    assert bool(torch.isfinite(logits.grad).all())
    assert float(logits.grad.abs().sum()) > 0


@pytest.mark.parametrize("name", [name for name in WITH_GRADIENT if name != "ce"])
@pytest.mark.parametrize("case", ["all_right", "all_wrong", "one_right", "one_wrong"])
def test_edge_batches_give_finite_gradients(name: str, case: str) -> None:
    logits, labels = EDGE_BATCHES[case]
    logits = logits.clone().requires_grad_(True)
    loss = get_loss(name)(logits, labels)
    loss.backward()
    assert math.isfinite(loss.item())
    assert bool(torch.isfinite(logits.grad).all())


def test_none_loss_is_zero_and_keeps_base_gradient() -> None:
    logits = torch.tensor([[float("-inf"), 1.0, 0.0]], requires_grad=True)  # a masked class
    assert float(get_loss("none")(logits, torch.tensor([1]))) == 0.0
    total = CalibratedObjective("none", schedule="constant")(logits, torch.tensor([1]), epoch=0)
    total.backward()
    assert bool(torch.isfinite(logits.grad[0, 1:]).all())


@pytest.mark.parametrize(("name", "check"), loss_matrix())
def test_every_registered_loss_honours_the_contract(name: str, check: Callable[[str], None]) -> None:
    """Finite scalar with finite gradients on edge batches, bad input refused, trains in the objective, described."""
    check(name)


# ---------------------------------------------------------------- registry


def test_registry_names_and_roles() -> None:
    names = available_losses()
    for name in ("uc", "uc_unbalanced", "avuc", "mmce", "focal", "flsd53", "label_smoothing", "none", "ce"):
        assert name in names
    assert names == sorted(names)
    assert available_losses("base") == ["ce", "flsd53", "focal", "label_smoothing"]
    assert available_losses("calibration") == ["avuc", "mmce", "none", "uc", "uc_unbalanced"]
    assert loss_spec("uc").fn is uncertainty_calibration_loss
    assert get_loss("ce") is cross_entropy_loss


def test_unknown_loss_lists_known_names() -> None:
    with pytest.raises(ValueError, match=r"unknown loss 'ecce'; expected one of .*'mmce'.*'uc'"):
        get_loss("ecce")
    with pytest.raises(ValueError, match="role must be one of"):
        available_losses("other")  # type: ignore[arg-type]


def test_get_loss_binds_keyword_arguments() -> None:
    logits, labels = batch(2)
    assert float(get_loss("focal", gamma=1.0)(logits, labels)) == pytest.approx(
        focal_reference(logits.numpy(), labels.numpy(), 1.0)
    )


def test_register_loss_decorator_and_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry_module, "_REGISTRY", registry_module._REGISTRY.copy())

    @register_loss("mean_logit")
    def mean_logit(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return logits.mean()

    register_loss("max_logit", lambda logits, labels: logits.max(), role="base")
    assert {"mean_logit", "max_logit"} <= set(available_losses())
    assert loss_spec("max_logit").role == "base"
    assert float(get_loss("mean_logit")(torch.tensor([[1.0, 3.0]]), None)) == 2.0
    assert register_loss("mean_logit", mean_logit) is mean_logit  # the same again: a no-op
    with pytest.raises(ValueError, match="already registered"):
        register_loss("mean_logit", lambda logits, labels: logits.sum())
    register_loss("mean_logit", lambda logits, labels: logits.sum(), overwrite=True)
    assert float(get_loss("mean_logit")(torch.tensor([[1.0, 3.0]]), None)) == 4.0
    objective = CalibratedObjective("mean_logit", schedule="constant", weight=0.5)
    logits, labels = batch(0)
    expected = F.cross_entropy(logits, labels) + 0.5 * logits.sum()
    assert float(objective(logits, labels, epoch=0)) == pytest.approx(float(expected))


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        (("",), {}, "name must be a non-empty string"),
        (("x", 3), {}, "must be callable"),
        (("x", len), {"role": "extra"}, "role must be one of"),
    ],
)
def test_register_loss_rejects_bad_arguments(args: tuple, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        register_loss(*args, **kwargs)
    assert "x" not in available_losses()


# ---------------------------------------------------------------- schedules


def test_anneal_schedule_values_from_methods_reference() -> None:
    schedule = anneal_schedule(base_weight=1.0, epochs=10, warmup_ratio=0.1)
    values = [schedule(e) for e in range(10)]
    np.testing.assert_allclose(values, [0, 0.01, 0.12, 0.23, 0.34, 0.45, 0.56, 0.67, 0.78, 0.89], atol=1e-12)


@pytest.mark.parametrize(("weight", "epochs", "ratio"), [(2.0, 20, 0.1), (0.5, 30, 0.2), (1.0, 5, 0.1)])
def test_anneal_schedule_formula(weight: float, epochs: int, ratio: float) -> None:
    schedule = anneal_schedule(weight, epochs, ratio)
    init, n_w = weight / 100, math.floor(ratio * epochs)
    for e in range(epochs):
        expected = init * e / n_w if e < n_w else init + (weight - init) * (e - n_w) / (epochs - n_w)
        assert schedule(e) == pytest.approx(expected)
    assert schedule.warmup_epochs == n_w


def test_schedule_epoch_checks() -> None:
    schedule = anneal_schedule(epochs=10)
    with pytest.raises(ValueError, match=r"epoch must lie in \[0, 10\) for a schedule of 10 epochs, got 10"):
        schedule(10)
    with pytest.raises(ValueError, match="epoch must be a non-negative integer"):
        schedule(-1)
    with pytest.raises(ValueError, match="epochs must be a positive integer"):
        anneal_schedule(epochs=0)
    with pytest.raises(ValueError, match="base_weight must be a finite non-negative"):
        AnnealSchedule(base_weight=-1.0)


def test_constant_and_named_schedules() -> None:
    assert [constant_schedule(0.01)(e) for e in (0, 5, 99)] == [0.01] * 3
    assert make_schedule("constant", weight=0.3)(4) == 0.3
    assert make_schedule("anneal", weight=1.0, epochs=10) == AnnealSchedule(1.0, 10, 0.1)
    assert isinstance(make_schedule("constant"), ConstantSchedule)

    def custom(epoch: int) -> float:
        return 0.1 * epoch

    assert make_schedule(custom) is custom
    with pytest.raises(ValueError, match="schedule must be one of 'anneal', 'constant'; got 'cosine'"):
        make_schedule("cosine")


# ---------------------------------------------------------------- CalibratedObjective


def test_objective_total_is_ce_plus_weighted_uc() -> None:
    logits, labels = batch(0)
    logits.requires_grad_(True)
    objective = CalibratedObjective(calibration="uc", weight=1.0, schedule="anneal", epochs=10)
    for epoch in (0, 2, 9):
        parts = objective.parts(logits, labels, epoch)
        assert isinstance(parts, LossParts)
        weight = [0, 0.01, 0.12, 0.23, 0.34, 0.45, 0.56, 0.67, 0.78, 0.89][epoch]
        assert parts.weight == pytest.approx(weight)
        ce = F.cross_entropy(logits, labels).item()
        uc = uc_reference(logits.detach().numpy(), labels.numpy(), balanced=True)
        assert parts.base.item() == pytest.approx(ce)
        assert parts.calibration.item() == pytest.approx(uc)
        assert parts.total.item() == pytest.approx(ce + weight * uc)
        assert objective(logits, labels, epoch).item() == pytest.approx(parts.total.item())
    objective(logits, labels, 5).backward()
    assert float(logits.grad.abs().sum()) > 0


def test_objective_base_loss_replaces_ce() -> None:
    logits, labels = batch(1)
    focal_only = CalibratedObjective(calibration="focal")
    parts = focal_only.parts(logits, labels, epoch=3)
    assert float(parts.total) == pytest.approx(focal_reference(logits.numpy(), labels.numpy(), 3.0))
    assert float(parts.calibration) == 0.0

    smoothed = CalibratedObjective(calibration="label_smoothing", calibration_kwargs={"smoothing": 0.2})
    assert float(smoothed(logits, labels, 0)) == pytest.approx(
        label_smoothing_reference(logits.numpy(), labels.numpy(), 0.2)
    )

    focal_plus_uc = CalibratedObjective(calibration="uc", base="focal", schedule="constant", weight=0.5)
    expected = focal_reference(logits.numpy(), labels.numpy(), 3.0) + 0.5 * uc_reference(
        logits.numpy(), labels.numpy(), True
    )
    assert float(focal_plus_uc(logits, labels, 0)) == pytest.approx(expected)


def test_objective_kwargs_and_callable_schedule() -> None:
    logits, labels = batch(2)
    objective = CalibratedObjective(
        calibration="avuc", calibration_kwargs={"threshold": 0.5, "beta": 2.0}, schedule=lambda e: 0.25
    )
    expected = float(F.cross_entropy(logits, labels)) + 0.25 * avuc_reference(
        logits.numpy(), labels.numpy(), 0.5, 2.0
    )
    assert float(objective(logits, labels, 0)) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"calibration": "nope"}, "unknown loss 'nope'"),
        ({"base": "uc"}, "base must name a base loss"),
        ({"calibration": "focal", "base": "label_smoothing"}, "choose one base loss"),
        ({"weight": -1.0}, "weight must be a finite non-negative number"),
        ({"epochs": 0}, "epochs must be a positive integer"),
        ({"schedule": "linear"}, "schedule must be one of"),
    ],
)
def test_objective_rejects_bad_config(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        CalibratedObjective(**kwargs)


def test_objective_is_a_plain_config_dataclass() -> None:
    objective = CalibratedObjective("mmce", weight=0.3, epochs=4)
    config = dataclasses.asdict(objective)
    assert config["calibration"] == "mmce" and config["epochs"] == 4
    assert not any(key.startswith("_") for key in config)
    assert dataclasses.replace(objective, weight=0.6).weight_at(3) == pytest.approx(
        anneal_schedule(0.6, 4)(3)
    )
    with pytest.raises(ValueError, match=r"epoch must lie in \[0, 4\)"):
        objective.weight_at(4)


@pytest.mark.parametrize(
    "name",
    [
        "alnb.losses.registry",
        "alnb.losses.uc",
        "alnb.losses.avuc",
        "alnb.losses.mmce",
        "alnb.losses.focal",
        "alnb.losses.label_smoothing",
        "alnb.losses.cross_entropy",
        "alnb.losses.none",
        "alnb.losses.schedules",
        "alnb.losses.objective",
    ],
)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module)
    assert result.attempted > 0
    assert result.failed == 0
