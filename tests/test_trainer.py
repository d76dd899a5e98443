"""alnb.training: config validation, schedules, the feature cache (vision forward calls counted with a hook),
predictions, MC dropout, seeding, data access, progress bars, and fit + predict in two processes."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import COLOR_NAMES, color_images
from datasets import Dataset
from safetensors.torch import load_file

from alnb.losses import CalibratedObjective
from alnb.models import load_classifier
from alnb.models.base import Classifier
from alnb.predictions import Predictions
from alnb.training import FeatureCache, Trainer, TrainerConfig, dataset_fingerprint

NAMES = list(COLOR_NAMES)
TRAIN = np.arange(0, 16, dtype=np.int64)
MORE = np.arange(16, 32, dtype=np.int64)
TEST = np.arange(32, 64, dtype=np.int64)


def _labels(dataset, indices: np.ndarray) -> np.ndarray:
    return np.asarray(dataset["label"], dtype=np.int64)[indices]


def _config(**overrides: object) -> TrainerConfig:
    base = {"epochs": 3, "lr": 0.02, "optimizer": "adamw", "batch_size": 8, "warmup_epochs": 0, "quiet": True}
    base.update(overrides)
    return TrainerConfig(**base)  # type: ignore[arg-type]


def _trainable(clf: Classifier) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in clf.named_parameters() if p.requires_grad}


class VisionCalls:
    """Counts forward calls and images through a module with a forward hook."""

    def __init__(self, module: torch.nn.Module) -> None:
        self.calls = 0
        self.images = 0
        self.handle = module.register_forward_hook(self._hook)

    def _hook(self, module: torch.nn.Module, args: tuple, output: object) -> None:
        self.calls += 1
        pixel_values = args[0] if args else None
        self.images += 0 if pixel_values is None else int(pixel_values.shape[0])

    def reset(self) -> None:
        self.calls = self.images = 0


def _count_vision(clf: Classifier) -> VisionCalls:
    # CLIP's image tower is vision_model.embeddings → …; counting the embeddings counts every image pass.
    return VisionCalls(clf.backbone.vision_model.embeddings)


# ---------------------------------------------------------------------------------------------- config


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("epochs", 0, "epochs must be a positive integer"),
        ("batch_size", 2.5, "batch_size must be a positive integer"),
        ("lr", 0.0, "lr must be positive"),
        ("optimizer", "adam", "optimizer must be one of 'adamw', 'sgd'; got 'adam'"),
        ("schedule", "step", "schedule must be one of"),
        ("calibration", "entropy", "calibration must be one of .*'uc'"),
        ("calibration_schedule", "linear", "calibration_schedule must be one of 'anneal', 'constant'"),
        ("mixed_precision", "fp8", "mixed_precision must be one of"),
        ("warmup_epochs", 10, "warmup_epochs must be fewer than epochs"),
        ("seed", -1, "seed must be a non-negative integer, got -1"),
        ("quiet", "yes", "quiet must be True or False"),
        ("image_column", "", "image_column must be a non-empty string"),
    ],
)
def test_config_validation(field: str, value: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        TrainerConfig(**{field: value})  # type: ignore[arg-type]


def test_default_config_is_c_peal() -> None:
    config = TrainerConfig()
    assert (config.epochs, config.lr, config.batch_size, config.optimizer, config.momentum) == (
        10,
        0.002,
        32,
        "sgd",
        0.9,
    )
    assert (config.warmup_epochs, config.warmup_lr, config.schedule) == (1, 1e-5, "cosine")
    expected = [1e-5] + [0.5 * 0.002 * (1 + math.cos(math.pi * (e - 1) / 9)) for e in range(1, 10)]
    assert [config.lr_at(e) for e in range(10)] == pytest.approx(expected)
    assert TrainerConfig(schedule="constant", lr=0.1).lr_at(5) == 0.1


def test_trainer_arguments_validated() -> None:
    with pytest.raises(ValueError, match="config must be a TrainerConfig"):
        Trainer({"epochs": 3})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"accelerator must be an accelerate\.Accelerator"):
        Trainer(accelerator="cpu")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------- fit


def test_fit_records_epochs(clip_dir: str, color_dataset: Dataset) -> None:
    clf = load_classifier(clip_dir, NAMES, adapter="linear")
    config = _config(
        epochs=10, warmup_epochs=1, optimizer="sgd", calibration="uc", calibration_schedule="anneal"
    )
    trainer = Trainer(config)
    assert trainer.fit(clf, color_dataset, TRAIN, _labels(color_dataset, TRAIN)) is trainer
    result = trainer.last_fit_
    assert result.n_samples == 16 and result.used_feature_cache and result.trained
    assert [e.lr for e in result.epochs] == [config.lr_at(e) for e in range(10)]
    anneal = CalibratedObjective("uc", weight=1.0, schedule="anneal", epochs=10)
    assert [e.calibration_weight for e in result.epochs] == [anneal.weight_at(e) for e in range(10)]
    for epoch in result.epochs:
        assert epoch.loss == pytest.approx(epoch.ce + epoch.calibration_weight * epoch.calibration, rel=1e-5)
        assert epoch.seconds > 0
    assert result.seconds >= sum(e.seconds for e in result.epochs)


def test_fit_is_seeded(clip_dir: str, color_dataset: Dataset) -> None:
    labels = _labels(color_dataset, TRAIN)

    def trained(trainer_seed: int, init_seed: int) -> dict[str, torch.Tensor]:
        clf = load_classifier(clip_dir, NAMES, adapter="coop", n_ctx=4, seed=init_seed, feature_dropout=0.2)
        Trainer(_config(seed=trainer_seed)).fit(clf, color_dataset, TRAIN, labels)
        return _trainable(clf)

    first, again, other_init = trained(0, 0), trained(0, 0), trained(0, 7)
    assert all(torch.equal(first[n], again[n]) for n in first)
    # reset_each_round re-initialises from the trainer's seed: the classifier's own init does not matter.
    assert all(torch.equal(first[n], other_init[n]) for n in first)
    different = trained(1, 0)
    assert any(not torch.equal(first[n], different[n]) for n in first)
    # A warm feature cache (no encoding this time) gives the same weights too.
    clf = load_classifier(clip_dir, NAMES, adapter="coop", n_ctx=4, feature_dropout=0.2)
    trainer = Trainer(_config(seed=0))
    trainer.fit(clf, color_dataset, TRAIN, labels)
    trainer.fit(clf, color_dataset, TRAIN, labels)
    assert all(torch.equal(first[n], value) for n, value in _trainable(clf).items())


def test_fit_leaves_the_global_rng_alone(clip_dir: str, color_dataset: Dataset) -> None:
    clf = load_classifier(clip_dir, NAMES, adapter="coop", n_ctx=2)
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    Trainer(_config(epochs=1)).fit(clf, color_dataset, TRAIN, _labels(color_dataset, TRAIN))
    assert torch.equal(torch.rand(3), expected)


def test_reset_each_round_false_continues(clip_dir: str, color_dataset: Dataset) -> None:
    clf = load_classifier(clip_dir, NAMES, adapter="linear")
    labels = _labels(color_dataset, TRAIN)
    trainer = Trainer(_config(epochs=3, reset_each_round=False))
    first = trainer.fit(clf, color_dataset, TRAIN, labels).last_fit_.losses
    second = trainer.fit(clf, color_dataset, TRAIN, labels).last_fit_.losses
    assert second[0] < first[0]
    fresh = Trainer(_config(epochs=3)).fit(clf, color_dataset, TRAIN, labels).last_fit_.losses
    assert fresh[0] == pytest.approx(first[0])


@pytest.mark.parametrize(
    ("indices", "labels", "match"),
    [
        ([0, 1, 1], [0, 1, 1], r"indices must not repeat an index, but \[1\] repeat"),
        ([0, 64], [0, 1], r"indices must lie in \[0, 64\) for a dataset of 64 items, got 64"),
        ([0.5, 1.0], [0, 1], "indices must hold integer dataset indices"),
        ([0, 1], [0], "labels has 1 entries but there are 2 rows"),
        ([0, 1], [0, 4], r"labels must lie in \[0, 4\) for 4 classes, got 4"),
    ],
)
def test_fit_validates_indices_and_labels(
    clip_dir: str, color_dataset: Dataset, indices: list, labels: list, match: str
) -> None:
    clf = load_classifier(clip_dir, NAMES, adapter="linear")
    with pytest.raises(ValueError, match=match):
        Trainer(_config()).fit(clf, color_dataset, indices, labels)
    with pytest.raises(ValueError, match="classifier must be an alnb Classifier"):
        Trainer(_config()).fit(torch.nn.Linear(2, 2), color_dataset, [0], [0])


# ---------------------------------------------------------------------------------------------- feature cache


def test_feature_cache_skips_the_vision_tower(clip_dir: str, color_dataset: Dataset) -> None:
    clf = load_classifier(clip_dir, NAMES, adapter="coop", n_ctx=4)
    calls = _count_vision(clf)
    trainer = Trainer(_config(epochs=3))
    trainer.fit(clf, color_dataset, TRAIN, _labels(color_dataset, TRAIN))
    assert calls.images == len(TRAIN)  # each labeled image once, not once per epoch
    calls.reset()
    trainer.predict(clf, color_dataset, TRAIN)
    assert calls.calls == 0
    grown = np.concatenate([TRAIN, MORE])
    trainer.fit(clf, color_dataset, grown, _labels(color_dataset, grown))
    assert calls.images == len(MORE)  # only the new rows
    calls.reset()
    trainer.fit(clf, color_dataset, grown, _labels(color_dataset, grown))
    trainer.predict(clf, color_dataset, grown[::-1].copy())
    assert calls.calls == 0
    assert len(trainer.feature_cache) == len(grown)
    # A classifier with the same frozen image tower (text-only LoRA) reuses the same rows.
    text_lora = load_classifier(clip_dir, NAMES, adapter="lora", towers="text")
    lora_calls = _count_vision(text_lora)
    trainer.fit(text_lora, color_dataset, grown, _labels(color_dataset, grown))
    assert lora_calls.calls == 0


def test_without_cache_or_with_a_trained_tower_images_go_through_every_epoch(
    clip_dir: str, color_dataset
) -> None:
    labels = _labels(color_dataset, TRAIN)
    uncached = load_classifier(clip_dir, NAMES, adapter="coop", n_ctx=4)
    calls = _count_vision(uncached)
    Trainer(_config(epochs=3, feature_cache=False)).fit(uncached, color_dataset, TRAIN, labels)
    assert calls.images == 3 * len(TRAIN)
    cached = load_classifier(clip_dir, NAMES, adapter="coop", n_ctx=4)
    Trainer(_config(epochs=3)).fit(cached, color_dataset, TRAIN, labels)
    for name, value in _trainable(cached).items():  # caching does not change what is learned
        torch.testing.assert_close(value, _trainable(uncached)[name], rtol=1e-4, atol=1e-5)
    vision_lora = load_classifier(clip_dir, NAMES, adapter="lora", towers="vision")
    lora_calls = _count_vision(vision_lora)
    trainer = Trainer(_config(epochs=2))
    trainer.fit(vision_lora, color_dataset, TRAIN, labels)
    assert lora_calls.images == 2 * len(TRAIN) and not trainer.last_fit_.used_feature_cache
    assert len(trainer.feature_cache) == 0


def test_feature_cache_class() -> None:
    cache = FeatureCache()
    cache.add("k", [5, 2], torch.tensor([[5.0, 0.5], [2.0, 0.2]]))
    cache.add("k", [7], torch.tensor([[7.0, 0.7]]))
    assert cache.missing("k", [7, 1, 2]).tolist() == [1]
    assert cache.get("k", [7, 5, 2])[:, 0].tolist() == [7.0, 5.0, 2.0]
    with pytest.raises(KeyError, match=r"\[1\]"):
        cache.get("k", [1])
    assert cache.missing("other", [5]).tolist() == [5]
    assert len(cache) == 3 and cache.nbytes == 3 * 2 * 4
    with pytest.raises(ValueError, match="features must be shaped"):
        cache.add("k", [1, 2], torch.zeros(3, 2))
    cache.clear()
    assert len(cache) == 0


def test_dataset_fingerprint(color_dataset: Dataset) -> None:
    assert dataset_fingerprint(color_dataset) == color_dataset._fingerprint
    assert dataset_fingerprint(color_dataset.select(range(10))) != color_dataset._fingerprint
    items = [1, 2]
    assert dataset_fingerprint(items) == dataset_fingerprint(items) != dataset_fingerprint([1, 2])


# ---------------------------------------------------------------------------------------------- predict


def test_predictions_follow_the_requested_indices(clip_dir: str, color_dataset: Dataset) -> None:
    clf = load_classifier(clip_dir, NAMES, adapter="zeroshot")
    trainer = Trainer(_config(eval_batch_size=5))
    order = np.array([40, 3, 17, 63, 0, 22, 51], dtype=np.int64)
    predictions = trainer.predict(clf, color_dataset, order)
    assert isinstance(predictions, Predictions) and predictions.indices.tolist() == order.tolist()
    assert predictions.indices.dtype == np.int64
    pixels = clf.preprocess(color_dataset[order.tolist()]["image"])
    with torch.no_grad():
        torch.testing.assert_close(predictions.logits, clf(pixel_values=pixels))
        torch.testing.assert_close(predictions.embeddings, clf.embed(pixel_values=pixels))
    torch.testing.assert_close(predictions.probs, predictions.logits.softmax(dim=1))
    assert predictions.prob_samples is None
    # Same numbers through the uncached path, and in another order.
    uncached = Trainer(_config(feature_cache=False)).predict(clf, color_dataset, order[::-1].copy())
    torch.testing.assert_close(uncached.subset(order).logits, predictions.logits)
    empty = trainer.predict(clf, color_dataset, [])
    assert len(empty) == 0 and empty.probs.shape == (0, 4)


def test_predict_on_plain_sequences_and_other_columns(clip_dir: str, color_dataset: Dataset) -> None:
    clf = load_classifier(clip_dir, NAMES, adapter="zeroshot")
    images, labels = color_images(per_class=2)
    reference = Trainer(_config()).predict(clf, color_dataset, range(8))
    as_dicts = [{"img": im, "y": y} for im, y in zip(images, labels)]
    for dataset, column in [(images, "image"), (list(zip(images, labels)), "image"), (as_dicts, "img")]:
        predictions = Trainer(_config(image_column=column)).predict(clf, dataset, range(8))
        torch.testing.assert_close(predictions.logits, reference.logits)
    with pytest.raises(
        ValueError,
        match=r"image_column 'picture' is not a column of the dataset; columns: \['image', 'label'\]",
    ):
        Trainer(_config(image_column="picture")).predict(clf, color_dataset, [0])
    with pytest.raises(ValueError, match="image_column 'image' is not a key"):
        Trainer(_config()).predict(clf, as_dicts, [0])


def test_mc_dropout_samples(clip_dir: str, dinov2_dir: str, color_dataset: Dataset) -> None:
    plain = load_classifier(clip_dir, NAMES, adapter="coop", n_ctx=4)
    with pytest.raises(ValueError, match=r"mc_samples=3 needs dropout.*feature_dropout"):
        Trainer(_config()).predict(plain, color_dataset, TEST, mc_samples=3)
    with pytest.raises(ValueError, match="mc_samples must be a non-negative integer"):
        Trainer(_config()).predict(plain, color_dataset, TEST, mc_samples=-1)
    lora = load_classifier(dinov2_dir, NAMES, adapter="lora")  # LoRA's own dropout; the image tower reruns
    # Untrained LoRA has B = 0, so its dropout changes nothing yet: train it first.
    Trainer(_config(epochs=2)).fit(lora, color_dataset, TRAIN, _labels(color_dataset, TRAIN))
    for clf in (load_classifier(clip_dir, NAMES, adapter="coop", n_ctx=4, feature_dropout=0.3), lora):
        trainer = Trainer(_config())
        predictions = trainer.predict(clf, color_dataset, TEST, mc_samples=4)
        samples = predictions.prob_samples
        assert samples is not None and samples.shape == (len(TEST), 4, 4)
        torch.testing.assert_close(samples.sum(dim=1), torch.ones(len(TEST), 4))
        torch.testing.assert_close(predictions.probs, samples.mean(dim=2))
        assert not torch.allclose(samples[..., 0], samples[..., 1])
        deterministic = trainer.predict(clf, color_dataset, TEST)
        torch.testing.assert_close(predictions.logits, deterministic.logits)  # logits: dropout off
        again = trainer.predict(clf, color_dataset, TEST, mc_samples=4)
        assert torch.equal(again.prob_samples, samples)  # seeded
        assert not any(m.training for m in clf.modules())


def test_augmentation_applies_when_the_tower_trains(vit_dir: str, color_dataset: Dataset) -> None:
    labels = _labels(color_dataset, TRAIN)

    def trained(augment: bool) -> dict[str, torch.Tensor]:
        clf = load_classifier(vit_dir, NAMES, adapter="vpt", n_prompts=2)
        Trainer(_config(epochs=2, augment=augment)).fit(clf, color_dataset, TRAIN, labels)
        return _trainable(clf)

    plain, augmented, again = trained(False), trained(True), trained(True)
    assert any(not torch.equal(plain[n], augmented[n]) for n in plain)
    assert all(torch.equal(augmented[n], again[n]) for n in augmented)


def test_progress_bars(clip_dir: str, color_dataset: Dataset, capsys: pytest.CaptureFixture[str]) -> None:
    clf = load_classifier(clip_dir, NAMES, adapter="linear")
    labels = _labels(color_dataset, TRAIN)
    capsys.readouterr()
    Trainer(_config(quiet=True)).fit(clf, color_dataset, TRAIN, labels).predict(clf, color_dataset, TEST)
    assert capsys.readouterr().err == ""
    Trainer(_config(quiet=False)).fit(clf, color_dataset, TRAIN, labels).predict(clf, color_dataset, TEST)
    err = capsys.readouterr().err
    assert "fit (16 labeled)" in err and "predict" in err and "encoding images" in err


# ---------------------------------------------------------------------------------------------- two processes


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_fit_and_predict_in_two_processes(
    clip_dir: str, dataset_dir: Path, color_dataset: Dataset, tmp_path: Path
) -> None:
    # `accelerate launch --cpu --num_processes 2` starts ONE process unless mpirun is configured
    # (accelerate 1.15 sends --cpu to its simple launcher); `--multi_gpu` goes through torchrun, and with
    # CUDA hidden the two processes run on the CPU with the gloo backend.
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    worker = Path(__file__).with_name("accelerate_worker.py")
    command = [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
        "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
        "--main_process_port", str(_free_port()),
        str(worker), clip_dir, str(dataset_dir), str(tmp_path), "coop,lora,round",
    ]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=280, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    order = np.random.default_rng(0).permutation(64)[:45]
    # CoOp trains on cached features (encoded across both processes); LoRA runs both towers under DDP.
    for adapter, cached in (("coop", True), ("lora", False)):
        out = tmp_path / adapter
        report = json.loads((out / "report.json").read_text())
        assert report["num_processes"] == 2 and report["used_feature_cache"] == cached
        if cached:  # the shared on-disk cache holds each encoded row once: the second process wrote nothing
            (manifest,) = (out / "features").glob("*/manifest.json")
            assert json.loads(manifest.read_text())["rows"] == len(set(range(30)) | set(order.tolist()))
        assert len(report["losses"]) == 3
        # Gradients were averaged across processes: both ended with the same parameters.
        rank0 = load_file(str(out / "params_0.safetensors"))
        rank1 = load_file(str(out / "params_1.safetensors"))
        assert rank0.keys() == rank1.keys() and len(rank0) > 0
        assert all(torch.equal(rank0[n], rank1[n]) for n in rank0)
        # Gathered predictions cover every requested index once, in order, and equal a one-process run.
        gathered = load_file(str(out / "predictions.safetensors"))
        assert gathered["indices"].tolist() == order.tolist()
        clf = load_classifier(clip_dir, NAMES, adapter=adapter).load_adapter(out / "adapter")
        assert all(torch.equal(p.detach(), rank0[n]) for n, p in clf.named_parameters() if p.requires_grad)
        local = Trainer(_config()).predict(clf, color_dataset, order)
        torch.testing.assert_close(gathered["logits"], local.logits, rtol=1e-4, atol=1e-4)
        torch.testing.assert_close(gathered["embeddings"], local.embeddings, rtol=1e-4, atol=1e-5)
    # A whole round (fit and pool scoring) queries the same items in both processes as in one process.
    from accelerate_worker import active_learning_round

    queries = [json.loads((tmp_path / f"round_queries_{rank}.json").read_text()) for rank in (0, 1)]
    assert queries[0] == queries[1] == active_learning_round(clip_dir, color_dataset)
    assert len(queries[0]["second"]) == 6 and not set(queries[0]["first"]) & set(queries[0]["second"])


def test_min_steps_stretches_small_fits_and_logs_the_training_error(
    clip_dir: str, color_dataset: Dataset
) -> None:
    """With few labels, ``min_steps`` adds epochs (the schedule stretches); each epoch logs the share it got wrong."""
    config = _config(epochs=4, batch_size=8, min_steps=12, warmup_epochs=1, optimizer="adamw", lr=0.05)
    assert config.epochs_for(8) == 12 and config.epochs_for(40) == 4 and config.epochs_for(17) == 4
    with pytest.raises(ValueError, match="min_steps"):
        _config(min_steps=-1)
    clf = load_classifier(clip_dir, NAMES, adapter="linear")
    indices = TRAIN[:8]
    trainer = Trainer(config).fit(clf, color_dataset, indices, _labels(color_dataset, indices))
    epochs = trainer.last_fit_.epochs
    stretched = dataclasses.replace(config, epochs=12)
    assert len(epochs) == 12 and [e.lr for e in epochs] == [stretched.lr_at(e) for e in range(12)]
    errors = [e.train_error for e in epochs]
    assert all(0.0 <= x <= 1.0 for x in errors) and errors[-1] <= errors[0]
