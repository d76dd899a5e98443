"""The evidence studies: statistics against direct computations, protocols, the study runner, its report and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from alnb.experiment import parse_method
from alnb.studies import (
    PROTOCOLS,
    STUDIES,
    area_under_curve,
    bootstrap_interval,
    get_protocol,
    labels_to_reach,
    paired_difference,
    run_study,
    summarize,
)

# ---------------------------------------------------------------- statistics


def test_area_under_curve_is_the_normalised_trapezoid():
    labels, acc = [10, 20, 40, 80], [0.5, 0.6, 0.65, 0.8]
    history = [{"num_labeled": n, "accuracy": a} for n, a in zip(labels, acc)]
    by_hand = sum((labels[i + 1] - labels[i]) * (acc[i] + acc[i + 1]) / 2 for i in range(3)) / 70
    assert area_under_curve(history) == pytest.approx(by_hand)
    assert area_under_curve(history[:1]) == 0.5
    with pytest.raises(ValueError, match="history is empty"):
        area_under_curve([])


def test_labels_to_reach_first_round_at_target_or_inf():
    history = [{"num_labeled": n, "accuracy": a} for n, a in ((10, 0.4), (20, 0.7), (30, 0.6))]
    assert labels_to_reach(history, 0.7) == 20 and labels_to_reach(history, 0.9) == float("inf")


def test_bootstrap_interval_matches_a_direct_resampling_and_is_seeded():
    values = np.array([0.02, -0.01, 0.05, 0.03, 0.00])
    rng = np.random.default_rng(0)
    means = values[rng.integers(0, 5, size=(10_000, 5))].mean(axis=1)
    low, high = bootstrap_interval(values)
    assert (low, high) == (pytest.approx(np.quantile(means, 0.025)), pytest.approx(np.quantile(means, 0.975)))
    assert bootstrap_interval(values) == (low, high)
    assert low < values.mean() < high
    with pytest.raises(ValueError, match="non-empty 1-d"):
        bootstrap_interval([])
    with pytest.raises(ValueError, match=r"level=1\.5"):
        bootstrap_interval(values, level=1.5)


def test_paired_difference_pairs_by_seed_and_counts_wins():
    ours, ref = {0: 0.9, 1: 0.8, 2: 0.85, 7: 0.1}, {0: 0.8, 1: 0.82, 2: 0.75}
    out = paired_difference(ours, ref)
    assert out["seeds"] == [0, 1, 2]  # seed 7 has no partner
    assert out["differences"] == pytest.approx([0.1, -0.02, 0.1])
    assert (out["wins"], out["losses"]) == (2, 1)
    assert out["mean"] == pytest.approx(0.06)
    assert paired_difference({0: 0.5, 1: 0.5}, {0: 0.5, 1: 0.5})["excludes_zero"] is False
    assert paired_difference({s: 0.6 + 0.01 * s for s in range(5)}, {s: 0.5 for s in range(5)})[
        "excludes_zero"
    ]
    with pytest.raises(ValueError, match="no seed in common"):
        paired_difference({0: 1.0}, {1: 1.0})


# ---------------------------------------------------------------- protocols and methods


def test_paper_protocol_is_cpeals_released_settings():
    paper = get_protocol("cpeal-paper")
    coop = paper.experiment_config("coop")
    trainer = coop.trainer
    assert (trainer.optimizer, trainer.lr, trainer.epochs, trainer.warmup_epochs, trainer.batch_size) == (
        "sgd",
        0.002,
        10,
        1,
        32,
    )
    assert coop.adapter_options == {"n_ctx": 16, "class_specific": True}
    assert (coop.rounds, coop.query_size) == (10, None)  # None = C labels per round
    lora = paper.experiment_config("lora").adapter_options
    assert (lora["r"], lora["alpha"], lora["dropout"], lora["towers"], lora["targets"]) == (
        4, 4.0, 0.25, "both", ("q", "k", "v"),
    )  # fmt: skip
    assert "cpeal" in STUDIES and parse_method("cpeal").strategy == "entropy+pcb"


def test_protocol_errors_name_what_is_known():
    with pytest.raises(
        ValueError, match=r"protocol='paper' is not known; expected one of \['alnb', 'cpeal-paper'\]"
    ):
        get_protocol("paper")
    with pytest.raises(ValueError, match="adapter='vpt' has no recipe in protocol 'alnb'"):
        PROTOCOLS["alnb"].experiment_config("vpt")
    with pytest.raises(ValueError, match="study='calibration' is not known"):
        run_study("calibration", out=None)


def test_every_study_method_parses_and_cold_start_syntax():
    for study in STUDIES.values():
        for method in study.methods:
            parse_method(method)
    method = parse_method("cpeal/typiclust")
    assert (method.strategy, method.calibration, method.initial_strategy) == (
        "entropy+pcb",
        "uc",
        "typiclust",
    )
    with pytest.raises(ValueError, match="cold start 'nonsense'"):
        parse_method("cpeal/nonsense")


# ---------------------------------------------------------------- the runner, end to end on a tiny setting


#: A study small enough for the tests: one task, three methods, two seeds, two rounds, subsampled splits.
TINY = {
    "tasks": ["digits"],
    "methods": ["cpeal", "random", "badge"],
    "seeds": [0, 1],
    "rounds": 2,
    "pool_size": 150,
    "test_size": 80,
    "mechanism_sizes": [1],
    "progress": False,
}


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory):
    out = tmp_path_factory.mktemp("study")
    histories = run_study("cpeal", out=out, **TINY)
    return out, histories


def test_study_writes_histories_summary_report_and_figures(tiny_study):
    out, _ = tiny_study
    for name in (
        "histories.json",
        "summary.json",
        "report.md",
        "learning_curves.png",
        "paired_differences.png",
    ):
        assert (out / name).is_file(), name
    saved = json.loads((out / "histories.json").read_text())
    assert len(saved["runs"]) == 3 * 2 and {r["task"] for r in saved["runs"]} == {"digits"}
    assert all(len(r["history"]) == 2 for r in saved["runs"])
    # The report's numbers are recomputed from histories.json alone.
    assert json.loads(json.dumps(summarize(saved))) == json.loads((out / "summary.json").read_text())
    report = (out / "report.md").read_text()
    assert "## digits" in report and "cpeal [coop]" in report and "The mechanism alone" in report
    mechanism = saved["mechanism"]
    assert {(r["seed"], r["calibration"]) for r in mechanism} == {
        (s, c) for s in (0, 1) for c in ("none", "uc", "uc_unbalanced")
    }
    assert all(0.0 <= r["train_error_last_epoch"] <= 1.0 for r in mechanism)


def test_same_seed_gives_the_same_round_zero_draw_for_every_method(tiny_study):
    _, histories = tiny_study
    for seed in (0, 1):
        first = {tuple(r["history"][0]["queried"]) for r in histories["runs"] if r["seed"] == seed}
        assert len(first) == 1
    assert histories["runs"][0]["history"][0]["queried"] != histories["runs"][1]["history"][0]["queried"]


def test_summary_pairs_methods_with_random_and_badge_by_seed(tiny_study):
    _, histories = tiny_study
    summary = summarize(histories)
    paired = summary["tasks"]["digits"]["paired"]
    cpeal_vs_random = next(
        p
        for p in paired
        if p["method"] == "cpeal [coop]" and p["reference"] == "random [coop]" and p["metric"] == "aulc"
    )
    runs = {(r["method"], r["seed"]): r["history"] for r in histories["runs"]}
    expected = [area_under_curve(runs[("cpeal", s)]) - area_under_curve(runs[("random", s)]) for s in (0, 1)]
    assert cpeal_vs_random["differences"] == pytest.approx(expected)
    assert {p["reference"] for p in paired} == {"random [coop]", "badge [coop]"}
    cell = summary["tasks"]["digits"]["methods"]["badge [coop]"]
    assert cell["final_labels"] == 20 and cell["seeds"] == [0, 1]
    assert cell["final_accuracy"]["mean"] == pytest.approx(
        np.mean([runs[("badge", s)][-1]["accuracy"] for s in (0, 1)])
    )


def test_an_interrupted_study_resumes_without_rerunning(tiny_study):
    out, _ = tiny_study
    histories = json.loads((out / "histories.json").read_text())
    again = run_study("cpeal", out=out, **TINY)
    assert [r["seconds"] for r in again["runs"]] == [r["seconds"] for r in histories["runs"]]


def test_cli_study_prints_the_headline(tmp_path, capsys):
    from alnb.cli import main

    code = main(
        ["study", "peal", "--tasks", "glyphs", "--methods", "random,entropy", "--seeds", "0", "--rounds", "1",
         "--pool-size", "100", "--test-size", "60", "--out", str(tmp_path)]
    )  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "glyphs" in printed and "entropy [lora]" in printed and "random [linear]" in printed
    summary = json.loads((tmp_path / "summary.json").read_text())
    pairs = {(p["method"], p["reference"]) for p in summary["tasks"]["glyphs"]["paired"]}
    assert ("entropy [lora]", "entropy [linear]") in pairs  # the adapter comparison of a two-adapter study


def test_cli_study_refuses_an_unknown_study(tmp_path, capsys):
    from alnb.cli import main

    assert main(["study", "nope", "--out", str(tmp_path)]) == 2
    assert "study='nope' is not known" in capsys.readouterr().err


def test_recommended_is_cpeal_with_a_typiclust_cold_start():
    method = parse_method("recommended")
    assert (method.name, method.strategy, method.calibration, method.initial_strategy) == (
        "recommended",
        "entropy+pcb",
        "uc",
        "typiclust",
    )
