"""Every adapter on every model it supports: training lowers the loss, only adapter parameters change,
save/load round-trips, resets are fresh initialisations, and the calibration loss reaches the gradient."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import COLOR_NAMES
from datasets import Dataset
from PIL import Image

from alnb.models import load_classifier
from alnb.models.base import ADAPTER_CONFIG_FILE, Classifier
from alnb.training import Trainer, TrainerConfig

NAMES = list(COLOR_NAMES)

#: (model, adapter) pairs that train; zero-shot is tested on its own.
TRAINABLE = [
    ("clip", "coop"),
    ("clip", "vpt"),
    ("clip", "lora"),
    ("clip", "linear"),
    ("vit", "linear"),
    ("vit", "lora"),
    ("vit", "vpt"),
    ("dinov2", "linear"),
    ("dinov2", "lora"),
    ("dinov2", "vpt"),
    ("siglip", "lora"),
    ("siglip", "linear"),
]

#: Train on classes 0-3 from the first half of the colour set (dataset rows 0..31); evaluate on the rest.
TRAIN = np.arange(32, dtype=np.int64)
TEST = np.arange(32, 64, dtype=np.int64)


def _labels(dataset, indices: np.ndarray) -> np.ndarray:
    return np.asarray(dataset["label"], dtype=np.int64)[indices]


def _config(**overrides: object) -> TrainerConfig:
    base = {
        "epochs": 6,
        "lr": 0.02,
        "optimizer": "adamw",
        "weight_decay": 0.0,
        "batch_size": 16,
        "warmup_epochs": 0,
        "quiet": True,
    }
    base.update(overrides)
    return TrainerConfig(**base)  # type: ignore[arg-type]


def _trainable(clf: Classifier) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in clf.named_parameters() if p.requires_grad}


@pytest.fixture(scope="module")
def held_out_images(color_dataset: Dataset) -> list[Image.Image]:
    """Eight held-out images (each classifier preprocesses them itself)."""
    return color_dataset[[int(i) for i in TEST[:8]]]["image"]


@pytest.mark.parametrize(("model", "adapter"), TRAINABLE)
def test_fit_lowers_loss_and_changes_only_the_adapter(
    model_dirs: dict[str, str], color_dataset: Dataset, model: str, adapter: str
) -> None:
    clf = load_classifier(model_dirs[model], NAMES, adapter=adapter)
    before = {k: v.clone() for k, v in clf.state_dict().items()}
    trainable = {n for n, p in clf.named_parameters() if p.requires_grad}
    assert trainable, "every adapter in TRAINABLE has parameters"
    trainer = Trainer(_config()).fit(clf, color_dataset, TRAIN, _labels(color_dataset, TRAIN))
    losses = trainer.last_fit_.losses
    assert len(losses) == 6 and trainer.last_fit_.trained
    assert losses[-1] < 0.95 * losses[0], losses
    after = clf.state_dict()
    assert after.keys() == before.keys()
    for name, value in after.items():
        if name in trainable:
            assert not torch.equal(value, before[name]), f"{name} did not train"
        else:
            assert torch.equal(value, before[name]), f"frozen {name} changed"


def test_zero_shot_trains_nothing(clip_dir: str, color_dataset: Dataset) -> None:
    clf = load_classifier(clip_dir, NAMES, adapter="zeroshot")
    before = {k: v.clone() for k, v in clf.state_dict().items()}
    trainer = Trainer(_config()).fit(clf, color_dataset, TRAIN, _labels(color_dataset, TRAIN))
    assert not trainer.last_fit_.trained and trainer.last_fit_.epochs == ()
    assert clf.trainable_parameters() == (0, 0.0)
    assert all(torch.equal(v, before[k]) for k, v in clf.state_dict().items())


@pytest.mark.parametrize(("model", "adapter"), TRAINABLE)
def test_save_load_round_trip(
    model_dirs: dict[str, str],
    color_dataset: Dataset,
    held_out_images: list[Image.Image],
    tmp_path: Path,
    model: str,
    adapter: str,
) -> None:
    clf = load_classifier(model_dirs[model], NAMES, adapter=adapter)
    Trainer(_config(epochs=2)).fit(clf, color_dataset, TRAIN, _labels(color_dataset, TRAIN))
    clf.save_adapter(tmp_path / "adapter")
    assert (tmp_path / "adapter" / ADAPTER_CONFIG_FILE).is_file()
    if adapter == "lora":  # peft's own format
        assert (tmp_path / "adapter" / "adapter_model.safetensors").is_file()
        assert json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())["r"] == 4
    fresh = load_classifier(model_dirs[model], NAMES, adapter=adapter, seed=11)
    x = clf.preprocess(held_out_images)
    with torch.no_grad():
        assert not torch.equal(fresh(pixel_values=x), clf(pixel_values=x))
        fresh.load_adapter(tmp_path / "adapter")
        assert torch.equal(fresh(pixel_values=x), clf(pixel_values=x))
    other_names = load_classifier(model_dirs[model], [*NAMES[:3], "purple"], adapter=adapter)
    with pytest.raises(ValueError, match="class_names: saved"):
        other_names.load_adapter(tmp_path / "adapter")


def test_load_checks_the_adapter_config(clip_dir: str, tmp_path: Path) -> None:
    load_classifier(clip_dir, NAMES, adapter="coop", n_ctx=4).save_adapter(tmp_path)
    with pytest.raises(ValueError, match=r"config: saved .*'n_ctx': 4.*'n_ctx': 8"):
        load_classifier(clip_dir, NAMES, adapter="coop", n_ctx=8).load_adapter(tmp_path)
    with pytest.raises(ValueError, match="adapter: saved 'coop', this classifier 'vpt'"):
        load_classifier(clip_dir, NAMES, adapter="vpt").load_adapter(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"alnb_adapter\.json is missing"):
        load_classifier(clip_dir, NAMES, adapter="coop").load_adapter(tmp_path / "empty")


@pytest.mark.parametrize(("model", "adapter"), TRAINABLE)
def test_reset_gives_a_fresh_initialisation(
    model_dirs: dict[str, str], color_dataset: Dataset, model: str, adapter: str
) -> None:
    clf = load_classifier(model_dirs[model], NAMES, adapter=adapter)
    Trainer(_config(epochs=2)).fit(clf, color_dataset, TRAIN, _labels(color_dataset, TRAIN))
    trained = _trainable(clf)
    clf.reset_adapter(seed=3)
    reset = _trainable(clf)
    fresh = _trainable(load_classifier(model_dirs[model], NAMES, adapter=adapter, seed=3))
    assert reset.keys() == fresh.keys() == trained.keys()
    for name in reset:
        assert torch.equal(reset[name], fresh[name]), name
    assert any(not torch.equal(reset[n], trained[n]) for n in reset)
    clf.reset_adapter(seed=4)
    seeded_differently = _trainable(clf)
    deterministic = adapter == "linear" and model in (
        "clip",
        "siglip",
    )  # zero-shot text initialisation has no randomness
    assert deterministic or any(not torch.equal(reset[n], seeded_differently[n]) for n in reset)


@pytest.mark.parametrize(("model", "adapter"), TRAINABLE)
def test_calibration_loss_reaches_the_gradient(
    model_dirs: dict[str, str], color_dataset: Dataset, model: str, adapter: str
) -> None:
    # The balanced UC loss is 0 on a batch that is all right (or all wrong). Half of the class-1 rows relabeled as
    # class 2 cannot all be fitted (same colour, two labels), so both groups stay non-empty however fast it fits.
    labels = _labels(color_dataset, TRAIN)
    labels[1::8] = (labels[1::8] + 1) % 4
    last_fit = {}
    clf = load_classifier(model_dirs[model], NAMES, adapter=adapter)

    def train(**calibration: object) -> dict[str, torch.Tensor]:
        # Each fit re-initialises the adapter from the trainer's seed, so the runs start alike.
        config = _config(epochs=3, batch_size=32, calibration_schedule="constant", **calibration)
        last_fit["result"] = Trainer(config).fit(clf, color_dataset, TRAIN, labels).last_fit_
        return _trainable(clf)

    plain = train(calibration="none")
    weightless = train(calibration="uc", calibration_weight=0.0)
    calibrated = train(calibration="uc", calibration_weight=1.0)
    # The premise: some epoch has both right and wrong predictions (else the balanced loss is 0 by definition).
    assert any(0 < epoch.train_error < 1 for epoch in last_fit["result"].epochs)
    assert any(epoch.calibration > 0 for epoch in last_fit["result"].epochs)
    assert all(torch.equal(plain[n], weightless[n]) for n in plain)  # same batches, same seed: a fair control
    assert any(not torch.equal(plain[n], calibrated[n]) for n in plain)
