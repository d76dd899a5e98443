"""`alnb run` / `alnb compare` end to end on a tiny CLIP and a saved data set, plus argument errors."""

from __future__ import annotations

import json

import pytest
from conftest import COLOR_NAMES, color_images
from datasets import ClassLabel, Dataset, DatasetDict, Features
from datasets import Image as ImageFeature

from alnb.cli import main
from alnb.experiment import Method, parse_method


@pytest.fixture(scope="module")
def saved_splits(tmp_path_factory) -> str:
    features = Features({"image": ImageFeature(), "label": ClassLabel(names=list(COLOR_NAMES))})
    splits = {}
    for name, seed, per_class in (("train", 0, 10), ("test", 1, 5)):
        images, labels = color_images(seed=seed, per_class=per_class)
        splits[name] = Dataset.from_dict({"image": images, "label": labels}, features=features)
    path = tmp_path_factory.mktemp("splits")
    DatasetDict(splits).save_to_disk(str(path))
    return str(path)


def test_compare_writes_histories_table_and_figures(clip_dir, saved_splits, tmp_path, capsys):
    out = tmp_path / "cmp"
    code = main(["compare", "--model", clip_dir, "--dataset", saved_splits, "--methods", "cpeal,random",
                 "--seeds", "0,1", "--rounds", "2", "--epochs", "2", "--out", str(out)])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "| cpeal |" in printed and "| random |" in printed and "**accuracy**" in printed
    runs = json.loads((out / "histories.json").read_text())["runs"]
    assert sorted((r["method"], r["seed"]) for r in runs) == [
        ("cpeal", 0),
        ("cpeal", 1),
        ("random", 0),
        ("random", 1),
    ]
    cpeal = next(r for r in runs if r["method"] == "cpeal")
    assert (cpeal["strategy"], cpeal["calibration"]) == ("entropy+pcb", "uc")
    assert [h["num_labeled"] for h in cpeal["history"]] == [4, 8]
    assert (out / "results.md").read_text().startswith("**accuracy**")
    for png in ("learning_curves_accuracy.png", "learning_curves_ece.png", "reliability_cpeal_coop.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_run_one_experiment(clip_dir, saved_splits, capsys):
    code = main(["run", "--model", clip_dir, "--dataset", saved_splits, "--method", "margin@avuc",
                 "--adapter", "linear", "--rounds", "2", "--epochs", "1"])  # fmt: skip
    assert code == 0
    assert "| margin@avuc |" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "--method", "entropyy"], "unknown strategy|not a known strategy|Known presets"),
        (["run", "--method", "entropy@nope"], "calibration 'nope' is unknown"),
        (["compare", "--adapters", "coop,prefix"], r"unknown adapter\(s\) \['prefix'\]"),
    ],
)
def test_bad_arguments_say_what_is_known(argv, message, capsys):
    assert main(argv) == 2
    assert pytest.importorskip("re").search(message, capsys.readouterr().err)


def test_bad_numbers_are_refused_by_argparse(capsys):
    with pytest.raises(SystemExit):
        main(["compare", "--seeds", "a,b"])
    assert "comma-separated integers" in capsys.readouterr().err


def test_parse_method_presets_and_forms():
    assert parse_method("cpeal") == Method("cpeal", "entropy+pcb", "uc")
    assert parse_method("badge") == Method("badge", "badge", "none")
    assert parse_method("entropy+pcb@uc").calibration == "uc"
