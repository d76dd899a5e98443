"""Real data-set layouts: columns other than image / label (CIFAR-100's img / fine_label), named splits, a data set
without a test split, 16-bit images from a saved hub data set; through the Python API and the CLI, offline."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import COLOR_NAMES, color_images
from datasets import ClassLabel, Dataset, DatasetDict, Features
from datasets import Image as ImageFeature
from PIL import Image as PILImage

from alnb import ActiveLearner, DatasetOracle, Pool, Trainer, TrainerConfig
from alnb.cli import main
from alnb.datasets import from_hub
from alnb.experiment import ExperimentConfig, load_splits
from alnb.models import load_classifier
from alnb.training import load_images

NAMES = list(COLOR_NAMES)


def cifar_like(seed: int, per_class: int) -> Dataset:
    """The colour images in CIFAR-100's layout: ``img``, ``fine_label`` and a decoy ``coarse_label``."""
    images, labels = color_images(seed=seed, per_class=per_class)
    features = Features(
        {
            "img": ImageFeature(),
            "fine_label": ClassLabel(names=NAMES),
            "coarse_label": ClassLabel(names=["warm", "cold"]),
        }
    )
    coarse = [0 if label in (0, 3) else 1 for label in labels]
    return Dataset.from_dict({"img": images, "fine_label": labels, "coarse_label": coarse}, features=features)


@pytest.fixture(scope="module")
def cifar_train() -> Dataset:
    return cifar_like(seed=0, per_class=10)


@pytest.fixture(scope="module")
def cifar_test() -> Dataset:
    return cifar_like(seed=1, per_class=4)


def test_the_pools_columns_reach_the_trainer_the_oracle_and_the_test_set(
    clip_dir, cifar_train, cifar_test, tmp_path
):
    pool = Pool(cifar_train, NAMES, image_column="img", label_column="fine_label")
    classifier = load_classifier(clip_dir, NAMES, adapter="coop", n_ctx=4)
    trainer = Trainer(TrainerConfig(epochs=2, batch_size=8, lr=0.01, quiet=True))  # default image column
    learner = ActiveLearner(classifier, pool, trainer, "entropy", test=cifar_test)
    assert learner.trainer.config.image_column == "img" and learner.test_label_column == "fine_label"
    history = learner.run(2, progress=False)  # no oracle: answers come from fine_label
    assert [r["num_labeled"] for r in history] == [4, 8]
    labels = np.asarray(cifar_train["fine_label"])
    assert pool.labels.tolist() == labels[pool.labeled].tolist()  # fine_label, not coarse_label
    assert 0.0 <= history[-1]["accuracy"] <= 1.0 and len(learner.test_labels) == len(cifar_test)
    learner.save(tmp_path / "s")
    resumed = ActiveLearner.load(tmp_path / "s", cifar_train, test=cifar_test, classifier=classifier)
    assert (resumed.pool.image_column, resumed.pool.label_column) == ("img", "fine_label")
    assert resumed.query().indices.tolist() == learner.query().indices.tolist()


def test_a_layout_that_does_not_fit_is_refused_naming_the_columns(clip_dir, cifar_train):
    with pytest.raises(
        ValueError, match=r"image_column='picture' is not a column of the data set; expected one of"
    ):
        Pool(cifar_train, NAMES, image_column="picture", label_column="fine_label")
    with pytest.raises(ValueError, match=r"label_column='labels' is not a column"):
        Pool(cifar_train, NAMES, image_column="img", label_column="labels")
    pool = Pool(cifar_train, NAMES, image_column="img", label_column="fine_label")
    classifier = load_classifier(clip_dir, NAMES, adapter="zeroshot")
    with pytest.raises(
        ValueError, match=r"trainer.config.image_column='pixels' differs from pool.image_column='img'"
    ):
        ActiveLearner(classifier, pool, Trainer(TrainerConfig(image_column="pixels")))
    with pytest.raises(ValueError, match=r"column='label' is not in the data set"):
        DatasetOracle(cifar_train)  # the oracle's default column is not this layout's


def test_load_splits_with_named_splits_and_a_seeded_held_out_split(cifar_train, cifar_test, tmp_path):
    DatasetDict({"pool": cifar_train, "holdout": cifar_test}).save_to_disk(tmp_path / "named")
    layout = {"image_column": "img", "label_column": "fine_label"}
    splits = load_splits(dataset=str(tmp_path / "named"), train_split="pool", test_split="holdout", **layout)
    assert (len(splits.train), len(splits.test), splits.class_names, splits.note) == (40, 16, NAMES, None)
    assert splits.train.column_names == ["img", "fine_label", "coarse_label"]  # columns kept, not renamed
    with pytest.raises(
        ValueError, match=r"train_split='train' is not a split of dataset=.*splits \['pool', 'holdout'\]"
    ):
        load_splits(dataset=str(tmp_path / "named"), **layout)

    cifar_train.save_to_disk(tmp_path / "single")  # one Dataset, no splits at all
    first = load_splits(dataset=str(tmp_path / "single"), test_fraction=0.25, split_seed=3, **layout)
    again = load_splits(dataset=str(tmp_path / "single"), test_fraction=0.25, split_seed=3, **layout)
    assert (len(first.train), len(first.test)) == (30, 10)
    assert first.test["fine_label"] == again.test["fine_label"] and np.array_equal(
        np.asarray(first.test["img"][0]), np.asarray(again.test["img"][0])
    )  # seeded: the same split again
    assert sorted(np.bincount(first.test["fine_label"]).tolist()) == [2, 2, 3, 3]  # stratified
    assert "has no 'test' split" in first.note and "split_seed=3" in first.note


def test_cli_runs_on_a_saved_dataset_with_its_own_columns(
    clip_dir, cifar_train, cifar_test, tmp_path, capsys
):
    DatasetDict({"train": cifar_train, "test": cifar_test}).save_to_disk(tmp_path / "cifar")
    out = tmp_path / "out"
    code = main(["run", "--model", clip_dir, "--dataset", str(tmp_path / "cifar"), "--image-column", "img",
                 "--label-column", "fine_label", "--method", "entropy", "--adapter", "linear", "--rounds", "2",
                 "--epochs", "1", "--out", str(out)])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    assert "| entropy |" in printed and "note:" not in printed
    saved = json.loads((out / "histories.json").read_text())
    assert (saved["config"]["image_column"], saved["config"]["label_column"]) == ("img", "fine_label")
    assert [h["num_labeled"] for h in saved["runs"][0]["history"]] == [4, 8]


def test_cli_holds_out_a_seeded_test_split_and_says_so(clip_dir, cifar_train, tmp_path, capsys):
    DatasetDict({"training": cifar_train}).save_to_disk(tmp_path / "only_train")
    argv = ["run", "--model", clip_dir, "--dataset", str(tmp_path / "only_train"), "--image-column", "img",
            "--label-column", "fine_label", "--train-split", "training", "--method", "random", "--adapter",
            "zeroshot", "--rounds", "1", "--epochs", "1", "--out", str(tmp_path / "out")]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "note: dataset" in printed and "has no 'test' split" in printed and "25% of 'training'" in printed
    saved = json.loads((tmp_path / "out" / "histories.json").read_text())
    assert saved["notes"] and "split_seed=0" in saved["notes"][0]
    assert main([*argv[:-2], "--test-split", "validation", "--test-fraction", "1.5"]) == 2
    assert "test_fraction must lie in (0, 1), got 1.5" in capsys.readouterr().err


def test_a_saved_hub_dataset_of_16_bit_images_is_scaled_not_white(tmp_path):
    ramp = np.linspace(0, 4000, 16 * 16).reshape(16, 16).astype(np.uint16)  # a 12-bit scan in a 16-bit PNG
    PILImage.fromarray(ramp).save(tmp_path / "scan.png")
    with PILImage.open(tmp_path / "scan.png") as scan:  # decoded as RGB it is clipped to nearly white
        assert scan.mode.startswith("I;16") and np.asarray(scan.convert("RGB")).mean() > 240
    features = Features({"img": ImageFeature(), "fine_label": ClassLabel(names=["cell", "debris"])})
    scans = [str(tmp_path / "scan.png")] * 2
    Dataset.from_dict({"img": scans, "fine_label": [0, 1]}, features=features).save_to_disk(tmp_path / "s")
    for rename, column in ((True, "image"), (False, "img")):
        ds = from_hub(str(tmp_path / "s"), image_column="img", label_column="fine_label", rename=rename)
        assert column in ds.column_names
        (image,) = load_images(ds, np.array([0]), column)
        pixels = np.asarray(image)
        assert image.mode == "RGB" and pixels.min() == 0 and pixels.max() == 255  # min-max scaled to 8 bit
        assert 100 < pixels.mean() < 155  # a ramp, not a white square (convert("RGB") clips 4000 to 255)


def test_experiment_config_names_the_layout_once(tmp_path):
    config = ExperimentConfig(image_column="img", label_column="fine_label")
    assert config.trainer_config(seed=1).image_column == "img"
    with pytest.raises(ValueError, match="image_column must be a non-empty string"):
        ExperimentConfig(image_column="")


def test_a_dataset_oracle_over_a_plain_list_names_the_missing_column():
    with pytest.raises(ValueError, match=r"column='label' is not in the data set; a list has no named columns"):
        DatasetOracle([1, 2, 3])
