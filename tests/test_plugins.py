"""Plug-ins: one registry shape for strategies, adapters and losses, the generated contract checks run on plug-ins
defined right here, entry-point plug-ins, the error family and a light ``import alnb``."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from contracts import check_adapter, check_loss, check_strategy
from datasets import Dataset
from torch import nn

import alnb
from alnb import errors
from alnb._registry import Registry
from alnb.losses import available_losses, get_loss, loss_spec, register_loss
from alnb.losses import registry as loss_registry
from alnb.losses._common import check_loss_inputs
from alnb.models import Adapter, AdapterConfig, adapter_class, available_adapters, register_adapter
from alnb.models import registry as adapter_registry
from alnb.models.adapters.base import kaiming_uniform_
from alnb.strategies import Strategy, available, build_strategy, get_strategy, register_strategy
from alnb.strategies import registry as strategy_registry


@contextlib.contextmanager
def scoped_registries() -> Iterator[None]:
    """Undo every registration made inside (the built-in registries are left exactly as they were)."""
    with (
        strategy_registry._REGISTRY.scoped(),
        adapter_registry._REGISTRY.scoped(),
        loss_registry._REGISTRY.scoped(),
    ):
        yield


# ---------------------------------------------------------------------------------------------- new plug-ins


@dataclass(frozen=True)
class Oldest(Strategy):
    """Oldest items first: the smallest dataset index scores highest."""

    name: ClassVar[str] = "oldest_test"

    def score(self, predictions: Any, context: Any) -> np.ndarray:
        return -predictions.indices.astype(np.float64)


def brier_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Brier score: mean squared distance between the softmax and the one-hot label."""
    logits, labels = check_loss_inputs(logits, labels)
    target = F.one_hot(labels, logits.shape[1]).to(logits.dtype)
    return ((logits.softmax(dim=1) - target) ** 2).sum(dim=1).mean()


@dataclass
class ResidualHeadConfig(AdapterConfig):
    """Options of the residual head: only ``feature_dropout``."""


class ResidualHead(Adapter):
    """A linear head added to CLIP's zero-shot logits; nothing in the backbone trains."""

    families = frozenset({"vision_language"})
    model_types = frozenset({"clip"})

    def attach(self, classifier: Any) -> None:
        with torch.no_grad():
            width = classifier.template_text_features().shape[1]
        self.head = nn.Linear(width, classifier.num_classes)

    def reset_parameters(self, classifier: Any, generator: torch.Generator) -> None:
        kaiming_uniform_(self.head.weight, generator)
        with torch.no_grad():
            self.head.bias.zero_()

    def classify(self, classifier: Any, embeddings: torch.Tensor) -> torch.Tensor:
        return classifier.default_classify(embeddings) + self.head(embeddings)


def test_plugins_defined_here_pass_the_generated_contracts(
    clip_dir: str, color_dataset: Dataset, tmp_path: Path
) -> None:
    with scoped_registries():
        register_strategy(Oldest)
        register_loss("brier_test", brier_loss)
        register_adapter("residual_head_test", ResidualHeadConfig)(ResidualHead)

        assert "oldest_test" in available() and "brier_test" in available_losses("calibration")
        assert "residual_head_test" in available_adapters("vision_language", "clip")
        assert available_adapters("vision") == ["linear", "lora", "vpt"]  # supports() says clip only
        check_strategy(Oldest)
        check_strategy(build_strategy("oldest_test+pcb(gamma=0.5)"))
        check_loss("brier_test")
        check_adapter("residual_head_test", {"clip": clip_dir}, color_dataset, tmp_path)
    assert "oldest_test" not in available()
    assert "brier_test" not in available_losses()
    assert "residual_head_test" not in available_adapters()


def test_a_broken_plugin_fails_its_contract() -> None:
    @dataclass(frozen=True)
    class Labeled(Strategy):
        """Picks labeled items too (wrong)."""

        name: ClassVar[str] = "labeled_test"

        def select(self, predictions: Any, k: int, context: Any) -> Any:
            from alnb.strategies import Selection

            return Selection(context.labeled[:k], np.zeros(min(k, len(context.labeled))))

        def score(self, predictions: Any, context: Any) -> np.ndarray:
            return np.zeros(len(predictions))

    with scoped_registries():
        register_strategy(Labeled)
        with pytest.raises(AssertionError):
            check_strategy("labeled_test")

        def nan_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
            """Always NaN."""
            return logits.sum() * float("nan")

        register_loss("nan_test", nan_loss)
        with pytest.raises(AssertionError, match="nan_test"):
            check_loss("nan_test")


# ---------------------------------------------------------------------------------------------- one rule, one message


def test_one_overwrite_rule_for_every_kind() -> None:
    with scoped_registries():
        assert register_strategy(Oldest) is Oldest
        assert register_strategy(Oldest) is Oldest  # the same class again: a no-op

        @dataclass(frozen=True)
        class Other(Oldest):
            """Another class under the same name."""

        with pytest.raises(ValueError, match="'oldest_test' is already registered"):
            register_strategy(Other)
        register_strategy(overwrite=True)(Other)
        assert get_strategy("oldest_test") == Other()

        register_loss("brier_test", brier_loss)
        register_loss("brier_test", brier_loss)
        with pytest.raises(ValueError, match="already registered"):
            register_loss("brier_test", brier_loss, role="base")  # a different entry: same fn, other role
        register_loss("brier_test", brier_loss, role="base", overwrite=True)
        assert loss_spec("brier_test").role == "base"

        register_adapter("residual_head_test", ResidualHeadConfig)(ResidualHead)
        register_adapter("residual_head_test", ResidualHeadConfig)(ResidualHead)
        with pytest.raises(ValueError, match="already registered"):
            register_adapter("residual_head_test", ResidualHeadConfig)(type("Twin", (ResidualHead,), {}))
        assert adapter_class("residual_head_test") is ResidualHead


@pytest.mark.parametrize(
    ("lookup", "kind", "known"),
    [
        (lambda: get_strategy("entropi"), "strategy", "'badge', 'bald'"),
        (lambda: build_strategy("entropy+pbc"), "modifier", "balanced"),
        (lambda: get_loss("ecce"), "loss", "'avuc', 'ce'"),
        (lambda: adapter_class("prefix"), "adapter", "'coop', 'linear'"),
    ],
)
def test_one_unknown_name_error(lookup: Any, kind: str, known: str) -> None:
    with pytest.raises(errors.UnknownNameError, match=rf"unknown {kind} '\w+'.*{known}") as info:
        lookup()
    assert isinstance(info.value, ValueError) and isinstance(info.value, KeyError)
    assert not str(info.value).startswith('"')  # prints as a message, not as a quoted KeyError key


# ---------------------------------------------------------------------------------------------- entry points


def _fake_entry_points(monkeypatch: pytest.MonkeyPatch, points: dict[str, list[tuple[str, str]]]) -> None:
    module = types.ModuleType("alnb_fake_plugin")
    module.brier = brier_loss  # type: ignore[attr-defined]
    module.Oldest = Oldest  # type: ignore[attr-defined]
    module.ResidualHead = ResidualHead  # type: ignore[attr-defined]
    ResidualHead.config_class = ResidualHeadConfig
    monkeypatch.setitem(sys.modules, "alnb_fake_plugin", module)

    def entry_points(*, group: str) -> list[metadata.EntryPoint]:
        return [metadata.EntryPoint(name, value, group) for name, value in points.get(group, [])]

    monkeypatch.setattr(metadata, "entry_points", entry_points)


def _fresh(monkeypatch: pytest.MonkeyPatch, module: Any) -> Registry[Any]:
    """A registry with the built-ins whose entry points are not loaded yet."""
    old = module._REGISTRY
    fresh: Registry[Any] = Registry(old.kind, old.group, adopt=old._adopt)
    fresh._entries = dict(old._entries)
    monkeypatch.setattr(module, "_REGISTRY", fresh)
    return fresh


def test_entry_point_plugins_load_on_first_lookup(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_entry_points(
        monkeypatch,
        {
            "alnb.losses": [("brier_ep", "alnb_fake_plugin:brier")],
            "alnb.strategies": [("oldest_test", "alnb_fake_plugin:Oldest")],
            "alnb.adapters": [("residual_ep", "alnb_fake_plugin:ResidualHead")],
        },
    )
    losses = _fresh(monkeypatch, loss_registry)
    strategies = _fresh(monkeypatch, strategy_registry)
    adapters = _fresh(monkeypatch, adapter_registry)
    assert "brier_ep" not in losses._entries  # nothing loads at import or registration
    assert "brier_ep" in available_losses("calibration")
    assert get_loss("brier_ep") is brier_loss
    assert get_strategy("oldest_test") == Oldest()
    assert "oldest_test" in strategies.names()
    assert adapter_class("residual_ep") is ResidualHead
    assert "residual_ep" in adapters and "residual_ep" in available_adapters("vision_language", "clip")


def test_a_broken_entry_point_warns_and_is_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_entry_points(monkeypatch, {"alnb.losses": [("missing", "alnb_fake_plugin:no_such_loss")]})
    _fresh(monkeypatch, loss_registry)
    with pytest.warns(RuntimeWarning, match="skipping the loss plug-in 'missing'"):
        names = available_losses()
    assert "missing" not in names and "uc" in names


# ---------------------------------------------------------------------------------------------- errors, import


def test_error_family_is_exported_and_catchable_as_value_error() -> None:
    for name in errors.__all__:
        cls = getattr(alnb, name)
        assert cls is getattr(errors, name)
        assert issubclass(cls, errors.AlnbError) and issubclass(cls, ValueError)
    assert alnb.NonFinitePredictionsError is __import__("alnb.learner").learner.NonFinitePredictionsError


def test_import_alnb_does_not_import_torch() -> None:
    code = (
        "import sys, alnb\n"
        "assert 'torch' not in sys.modules and 'numpy' not in sys.modules, 'heavy import'\n"
        "assert sorted(dir(alnb)) == sorted(set(dir(alnb)))\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    for name in alnb.__all__:  # every public name still resolves
        assert getattr(alnb, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = alnb.nope  # type: ignore[attr-defined]
