"""Configs written once: ExperimentConfig nests TrainerConfig, and the CLI's flags, help and choices come from the
dataclass fields and their metadata (a new field is a new flag, with nothing added to alnb.cli)."""

from __future__ import annotations

import argparse
import dataclasses
import typing
from dataclasses import dataclass, field

import pytest

import alnb.experiment
from alnb.cli import add_config_arguments, build_parser, config_from_args, main
from alnb.experiment import CONFIG_FORMAT, ExperimentConfig
from alnb.training import TrainerConfig
from alnb.training.config import OPTIMIZERS, OptimizerName


@dataclass
class LabelSmoothingTrainer(TrainerConfig):
    """A newcomer's training option: one field, with its help."""

    label_smoothing: float = field(default=0.0, metadata={"help": "smooth the one-hot targets by this much"})


@dataclass
class AnnotatedExperiment(ExperimentConfig):
    """A newcomer's experiment option, and the trainer above nested in it."""

    annotator: typing.Literal["oracle", "noisy"] = field(
        default="oracle", metadata={"help": "who answers the queries"}
    )
    trainer: LabelSmoothingTrainer = field(
        default_factory=LabelSmoothingTrainer, metadata={"help": "training"}
    )


def _subcommand_help(parser: argparse.ArgumentParser, name: str) -> str:
    (commands,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return commands.choices[name].format_help()


def test_a_new_field_is_a_new_flag_with_its_help_without_touching_cli(monkeypatch, capsys):
    # alnb.cli reads ExperimentConfig when it builds the parser; a config with two more fields gives two more flags.
    monkeypatch.setattr(alnb.experiment, "ExperimentConfig", AnnotatedExperiment)
    parser = build_parser()
    text = " ".join(_subcommand_help(parser, "run").split())
    assert "--label-smoothing X smooth the one-hot targets by this much (default: 0.0)" in text
    assert "--annotator {oracle,noisy} who answers the queries (default: oracle)" in text
    args = parser.parse_args(["run", "--label-smoothing", "0.1", "--annotator", "noisy", "--epochs", "1"])
    config = config_from_args(AnnotatedExperiment, args)
    assert (config.annotator, config.trainer.label_smoothing, config.trainer.epochs) == ("noisy", 0.1, 1)
    assert config.trainer.warmup_epochs == 0  # one epoch: no warm-up unless asked
    with pytest.raises(SystemExit):
        parser.parse_args(["run", "--annotator", "crowd"])
    assert "invalid choice: 'crowd'" in capsys.readouterr().err


def test_flags_cover_every_field_with_its_help_and_choices():
    parser = argparse.ArgumentParser()
    add_config_arguments(parser, ExperimentConfig)
    flags = {a.dest: a for a in parser._actions if a.dest != "help"}
    for config_class, prefix in ((ExperimentConfig, ""), (TrainerConfig, "trainer.")):
        for spec in dataclasses.fields(config_class):
            if spec.name == "trainer":
                continue
            assert spec.metadata.get("help"), f"{config_class.__name__}.{spec.name} has no help"
            assert (prefix + spec.name in flags) == spec.metadata.get("cli", True), spec.name
    assert flags["trainer.optimizer"].choices == OPTIMIZERS == typing.get_args(OptimizerName)
    assert flags["trainer.mixed_precision"].choices == ("no", "bf16", "fp16")
    assert flags["trainer.batch_size"].option_strings == ["--batch-size"]


def test_parsed_flags_fill_the_nested_config_and_keep_the_other_defaults():
    parser = argparse.ArgumentParser()
    add_config_arguments(parser, ExperimentConfig)
    argv = ["--rounds", "3", "--lr", "0.05", "--optimizer", "adamw", "--no-feature-cache", "--augment",
            "--adapter-options", '{"n_ctx": 2}', "--image-column", "img", "--query-size", "5"]  # fmt: skip
    config = config_from_args(ExperimentConfig, parser.parse_args(argv))
    assert (config.rounds, config.query_size, config.image_column, config.adapter_options) == (
        3,
        5,
        "img",
        {"n_ctx": 2},
    )
    trainer = config.trainer
    assert (trainer.lr, trainer.optimizer, trainer.feature_cache, trainer.augment) == (
        0.05,
        "adamw",
        False,
        True,
    )
    assert (trainer.epochs, trainer.batch_size, trainer.warmup_epochs) == (10, 32, 1)  # not given: defaults
    assert config_from_args(ExperimentConfig, parser.parse_args([])) == ExperimentConfig()
    run = config.trainer_config(seed=4, calibration="uc")
    assert (run.seed, run.calibration, run.quiet, run.image_column, run.lr) == (4, "uc", True, "img", 0.05)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "--rounds", "0"], "rounds must be a positive integer, got 0"),
        (["run", "--warmup-epochs", "10"], "warmup_epochs must be fewer than epochs"),
        (["compare", "--test-size", "-3"], "test_size must be a positive integer, got -3"),
    ],
)
def test_bad_values_are_refused_by_the_config_with_its_message(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "--lr", "fast"], "expected a number, got 'fast'"),
        (["run", "--optimizer", "adam"], "invalid choice: 'adam'"),
        (["run", "--adapter-options", "n_ctx=4"], "expected a JSON object"),
    ],
)
def test_unreadable_flags_are_refused_by_argparse(argv, message, capsys):
    with pytest.raises(SystemExit):
        main(argv)
    assert message in capsys.readouterr().err


def test_saved_configs_of_both_formats_load():
    config = ExperimentConfig(dataset="glyphs", rounds=4, trainer=TrainerConfig(epochs=3, lr=0.01))
    saved = config.to_dict()
    assert saved["format"] == CONFIG_FORMAT == 2 and saved["trainer"]["lr"] == 0.01
    assert ExperimentConfig.from_dict(saved) == config
    flat = {  # what alnb 0.2 wrote into histories.json: no "format", trainer fields at the top level
        "model": None, "dataset": "glyphs", "rounds": 4, "query_size": None, "epochs": 3, "warmup_epochs": None,
        "lr": 0.01, "batch_size": 32, "optimizer": "sgd", "initial_strategy": "random", "pool_size": None,
        "test_size": None, "adapter_options": {}, "trainer_options": {"min_steps": 5},
    }  # fmt: skip
    old = ExperimentConfig.from_dict(flat)
    assert (old.dataset, old.rounds, old.trainer.epochs, old.trainer.lr, old.trainer.min_steps) == (
        "glyphs", 4, 3, 0.01, 5,
    )  # fmt: skip
    with pytest.raises(ValueError, match=r"format 3 is not known; this alnb reads formats 1 and 2"):
        ExperimentConfig.from_dict({**saved, "format": 3})
    with pytest.raises(ValueError, match=r"unknown keys \['epoch'\]"):
        ExperimentConfig.from_dict({"epoch": 3})


def test_study_flags_default_to_the_protocols():
    parser = build_parser()
    args = parser.parse_args(["study", "cpeal", "--out", "x", "--pool-size", "50"])
    given = vars(args)
    assert given["pool_size"] == 50 and "rounds" not in given and "model" not in given
    assert "--epochs" not in _subcommand_help(parser, "study")  # the protocol trains, not flags
