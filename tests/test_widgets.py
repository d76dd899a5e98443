"""The notebook UI driven without a browser: real ipywidgets (``Button.click()`` runs the handlers), a
real label file, a real tiny CLIP for the session. State is checked on disk (the JSONL label file read
independently with ``json``) and in the learner after every action."""

from __future__ import annotations

import html
import io
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from datasets import Dataset, Features, Image, Value
from PIL import Image as PILImage

from alnb.learner import ActiveLearner, Query
from alnb.metrics import expected_calibration_error
from alnb.plots import format_ece
from alnb.pool import Pool
from alnb.store import LabelStore
from alnb.widgets import ActiveLearningSession, Batch, LabelingWidget, RoundReport, check_display_names
from alnb.widgets._images import to_png

# ------------------------------------------------------------------------------------------------- helpers


def records(path: Path) -> list[dict]:
    """Action records of a label file, read without alnb (the header line is skipped)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0])["type"] == "header"
    return [json.loads(line) for line in lines[1:]]


def make_query(indices: list[int], round: int = 0, strategy: str = "entropy") -> Query:
    n = len(indices)
    return Query(
        indices=np.asarray(indices, dtype=np.int64),
        scores=np.linspace(1.0, 0.5, n) if strategy != "random" else np.full(n, np.nan),
        predicted=np.arange(n, dtype=np.int64) % 4,
        confidence=np.full(n, 0.4),
        round=round,
        strategy=strategy,
    )


def state_texts(widget: LabelingWidget) -> list[str]:
    return [tile.children[3].value for tile in widget.tiles]


# ------------------------------------------------------------------------------------------------- labeling


def test_class_click_is_on_disk_at_once_and_advances(pool: Pool, tmp_path: Path, names: list[str]) -> None:
    widget = LabelingWidget(pool, make_query([5, 3, 9]))
    assert widget.selected == 5  # the first open image is selected at the start
    widget.class_buttons[2].click()
    assert [(r["type"], r["index"], r["label"], r["round"]) for r in records(tmp_path / "labels.jsonl")] == [
        ("label", 5, 2, 0)
    ]
    assert widget.selected == 3  # moved on to the next image without a label
    assert f"✓ {names[2]}" in state_texts(widget)[0]
    assert "1 / 3 labeled in this batch" in widget.progress_text.value
    assert widget.progress_bar.value == 1
    # Selecting an image by its tile button, then labeling it, relabels only that image.
    widget.select_buttons[0].click()
    widget.class_buttons[1].click()
    assert pool.store.labels == {5: 1}
    assert widget.selected == 3


def test_skip_and_undo_are_recorded_and_reverted(pool: Pool, tmp_path: Path) -> None:
    widget = LabelingWidget(pool, make_query([5, 3, 9]))
    widget.class_buttons[0].click()  # 5 -> 0
    widget.skip_button.click()  # 3 skipped
    assert widget.selected == 9
    assert pool.skipped.tolist() == [3] and pool.labeled.tolist() == [5]
    assert "skipped" in state_texts(widget)[1]
    widget.undo_button.click()  # reverts the skip of 3 and selects it again
    assert widget.selected == 3
    assert pool.skipped.tolist() == [] and 3 in pool.unlabeled
    widget.undo_button.click()  # reverts the label of 5
    assert pool.labeled.tolist() == []
    assert [(r["type"], r["index"]) for r in records(tmp_path / "labels.jsonl")] == [
        ("label", 5),
        ("skip", 3),
        ("undo", 3),
        ("undo", 5),
    ]
    assert widget.undo_button.disabled  # nothing left to undo in this batch
    with pytest.raises(ValueError, match="Nothing to undo in this batch"):
        widget.undo()
    assert "Nothing to undo" in widget.error.value


def test_undo_never_reaches_into_an_earlier_batch(pool: Pool, tmp_path: Path) -> None:
    pool.label([7], [1])  # round 0, already trained on
    pool.next_round()
    widget = LabelingWidget(pool, make_query([5, 3], round=1))
    assert widget.undo_button.disabled
    with pytest.raises(ValueError, match="earlier batch"):
        widget.undo()
    assert pool.store.labels == {7: 1}
    assert len(records(tmp_path / "labels.jsonl")) == 1


def test_label_outside_the_query_is_refused_and_shown(pool: Pool, tmp_path: Path) -> None:
    widget = LabelingWidget(pool, make_query([5, 3, 9]))
    widget.label(1)  # 5 -> 1
    with pytest.raises(ValueError, match=r"index=7 is not in the current query; expected one of \[5, 3, 9\]"):
        widget.label(0, index=7)
    assert "index=7 is not in the current query" in widget.error.value
    with pytest.raises(ValueError, match="labels contains 'zebra'"):
        widget.label("zebra")
    assert html.escape("'zebra'") in widget.error.value
    assert pool.store.labels == {5: 1}  # nothing already labeled was lost or changed
    assert len(records(tmp_path / "labels.jsonl")) == 1
    widget.label("blue", index=9)  # by class name; the error line clears
    assert pool.store.labels == {5: 1, 9: 2}
    assert widget.error.value == ""


def test_submit_hands_over_the_batch_and_locks_until_the_next_query(pool: Pool, tmp_path: Path) -> None:
    seen: list[Batch] = []
    widget = LabelingWidget(pool, make_query([5, 3, 9, 11]), on_submit=seen.append)
    widget.class_buttons[3].click()  # 5 -> 3
    widget.skip_button.click()  # 3 skipped
    widget.class_buttons[0].click()  # 9 -> 0
    widget.submit_button.click()
    (batch,) = seen
    assert batch.labeled.tolist() == [5, 9] and batch.labels.tolist() == [3, 0]
    assert batch.skipped.tolist() == [3] and batch.unlabeled.tolist() == [11]
    assert widget.submitted
    assert all(b.disabled for b in (*widget.class_buttons, widget.skip_button, widget.submit_button))
    n_records = len(records(tmp_path / "labels.jsonl"))
    widget.class_buttons[1].click()  # a click on a submitted batch changes nothing
    assert len(records(tmp_path / "labels.jsonl")) == n_records
    assert "was submitted" in widget.error.value
    pool.next_round()
    widget.set_query(make_query([11, 20], round=1))
    assert not widget.submitted and not widget.class_buttons[0].disabled
    assert widget.selected == 11 and widget.error.value == ""
    assert "0 / 2 labeled in this batch" in widget.progress_text.value
    assert "2 labeled in total" in widget.progress_text.value


def test_failing_on_submit_shows_the_error_and_keeps_the_labels(pool: Pool) -> None:
    def broken(batch: Batch) -> None:
        raise RuntimeError("disk <full>")

    widget = LabelingWidget(pool, make_query([5, 3]), on_submit=broken)
    widget.class_buttons[1].click()
    widget.submit_button.click()  # the click handler shows the error instead of raising into the kernel log
    assert "RuntimeError: disk &lt;full&gt;" in widget.error.value
    assert not widget.submitted and not widget.class_buttons[0].disabled
    assert pool.store.labels == {5: 1}
    with pytest.raises(RuntimeError, match="disk <full>"):
        widget.submit()  # called from code, it raises


def test_class_and_file_names_are_escaped(tmp_path: Path) -> None:
    images = [PILImage.new("RGB", (8, 8), (i * 40, 0, 0)) for i in range(3)]
    paths = ["<img src=x onerror=alert(1)>.png", "a&b.png", "plain.png"]
    data = Dataset.from_dict(
        {"image": images, "path": paths}, features=Features({"image": Image(), "path": Value("string")})
    )
    classes = ["<b>cat</b>", "dog & co"]
    pool = Pool(data, classes, LabelStore(tmp_path / "labels.jsonl", classes))
    query = Query(
        np.array([0, 1]), np.array([0.9, 0.1]), np.array([0, 1]), np.array([0.7, 0.6]), 0, "<script>"
    )
    widget = LabelingWidget(pool, query)
    widget.class_buttons[0].click()
    rendered = " ".join(
        [widget.title.value, widget.progress_text.value, widget.error.value]
        + [t.children[2].value + t.children[3].value for t in widget.tiles]
    )
    for raw in ("<b>cat</b>", "<img src=x", "<script>", "dog & co", "a&b"):
        assert raw not in rendered
    for escaped in (
        "&lt;b&gt;cat&lt;/b&gt;",
        "&lt;img src=x onerror=alert(1)&gt;.png",
        "&lt;script&gt;",
        "a&amp;b",
    ):
        assert escaped in rendered
    # Button captions are plain text in ipywidgets (never parsed as HTML), so they carry the names unchanged.
    # The class's key is shown on its button.
    assert [b.description for b in widget.class_buttons] == [f"1 · {classes[0]}", f"2 · {classes[1]}"]
    assert records(tmp_path / "labels.jsonl")[0]["label"] == 0


def test_bad_class_names_and_bad_queries_are_refused(pool: Pool, color_dataset: Dataset) -> None:
    with pytest.raises(ValueError, match="unique"):
        Pool(color_dataset, ["red", "red", "blue", "yellow"])
    with pytest.raises(ValueError, match="'cat' and 'cat ' read the same"):
        check_display_names(["cat", "cat ", "dog"])
    with pytest.raises(ValueError, match="read the same"):
        LabelingWidget(Pool(color_dataset, ["red", "red ", "blue", "yellow"]), make_query([1]))
    with pytest.raises(ValueError, match="query is empty"):
        LabelingWidget(pool, make_query([]))
    with pytest.raises(ValueError, match=r"query.indices contains \[64\], which are not in the pool"):
        LabelingWidget(pool, make_query([1, 64]))
    with pytest.raises(ValueError, match="image_column='img' is not a column"):
        LabelingWidget(pool, make_query([1]), image_column="img")
    widget = LabelingWidget(pool, make_query([1, 2]))
    with pytest.raises(ValueError, match="query is empty"):
        widget.set_query(make_query([]))
    assert "query is empty" in widget.error.value
    assert widget.query.indices.tolist() == [1, 2]  # the shown batch is kept


def test_tiles_show_tiny_images_enlarged_without_blur(pool: Pool, color_dataset: Dataset) -> None:
    widget = LabelingWidget(pool, make_query([4, 6], strategy="random"), tile_size=100)
    shown = np.asarray(PILImage.open(io.BytesIO(widget.tiles[0].children[1].value)))
    source = np.asarray(color_dataset[4]["image"].convert("RGB"))
    # 32 px fits 3 whole times into 100 px; each source pixel becomes a 3×3 block (nearest neighbour).
    np.testing.assert_array_equal(shown, source.repeat(3, axis=0).repeat(3, axis=1))
    assert "why: chosen by random" in widget.tiles[0].children[2].value  # not "random random pick"
    big = PILImage.new("RGB", (400, 200))
    assert PILImage.open(io.BytesIO(to_png(big, 100))).size == (100, 50)


# ------------------------------------------------------------------------------------------------- report


def test_report_draws_history_and_replaces_its_figure(names: list[str]) -> None:
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(4), size=40)
    labels = rng.integers(0, 4, size=40)
    history = [
        {
            "round": 0,
            "num_labeled": 4,
            "accuracy": 0.25,
            "ece": 0.30,
            "queried_class_histogram": [1, 1, 2, 0],
        },
        {
            "round": 1,
            "num_labeled": 8,
            "accuracy": 0.50,
            "ece": 0.10,
            "queried_class_histogram": [0, 3, 0, 1],
        },
    ]
    baseline = [
        {"num_labeled": 4, "accuracy": 0.4, "ece": 0.2},
        {"num_labeled": 8, "accuracy": 0.6, "ece": 0.1},
    ]
    report = RoundReport(names, baselines={"random": [baseline]}, n_bins=10)
    report.update(history[:1], probs, labels)
    report.update(history, probs, labels)
    assert (
        report.summary.value
        == '<b class="alnb-summary">After round 1: 8 labels · accuracy 0.500 · ECE 0.1000</b>'
    )
    # Replaced, not appended: one figure whatever the number of rounds.
    assert len(report.output.outputs) == 1
    assert report.output.outputs[0]["data"]["image/png"]
    reliability, accuracy, ece, histogram = report.figure.axes[:4]
    expected = format_ece(expected_calibration_error(probs, labels, n_bins=10))
    assert reliability.get_title() == f"test set (ECE = {expected})"
    lines = {line.get_label(): line.get_ydata().tolist() for line in accuracy.get_lines()}
    assert lines == {"random": [0.4, 0.6], "this session": [0.25, 0.5]}
    assert [line.get_ydata().tolist() for line in ece.get_lines()][1] == [0.3, 0.1]
    assert accuracy.get_ylim() == (0.0, 1.0)
    assert ece.get_ylim() == pytest.approx((0.0, 1.15 * 0.3))  # room above the highest point of any run
    assert [p.get_height() for p in histogram.patches] == [1, 4, 2, 1]  # summed over the rounds
    assert histogram.get_title() == "classes queried (rounds 0–1)"


def test_report_without_test_metrics_and_bad_input(names: list[str]) -> None:
    report = RoundReport(names)
    report.update([{"round": 0, "num_labeled": 3, "queried_class_histogram": [3, 0, 0, 0]}])
    assert report.summary.value == '<b class="alnb-summary">After round 0: 3 labels</b>'
    texts = [t.get_text() for ax in report.figure.axes[:3] for t in ax.texts]
    assert texts == [
        "reliability diagram:\nno test set",
        "accuracy curve:\nno test metrics yet",
        "ECE curve:\nno test metrics yet",
    ]
    with pytest.raises(ValueError, match="probs and labels must be given together"):
        report.update([], probs=np.ones((2, 4)) / 4)
    with pytest.raises(ValueError, match="also a key of baselines"):
        RoundReport(names, baselines={"this session": []})
    with pytest.raises(ValueError, match=r"history\[0\] must be a dict with at least 'num_labeled'"):
        report.update([{"round": 0}])


# ------------------------------------------------------------------------------------------------- session


@pytest.fixture()
def make_learner(clip_dir: str, color_dataset: Dataset, names: list[str]) -> Callable[..., ActiveLearner]:
    from alnb.models import load_classifier
    from alnb.training import Trainer, TrainerConfig

    def make(store_path: Path | None, budget: int = 12, indices: list[int] | None = None) -> ActiveLearner:
        pool_indices = list(range(48)) if indices is None else indices
        if store_path is None:
            pool = Pool(color_dataset, names, indices=pool_indices)
        else:
            pool = Pool.from_file(store_path, color_dataset, names, indices=pool_indices)
        return ActiveLearner(
            load_classifier(clip_dir, names, adapter="coop", n_ctx=2),
            pool,
            Trainer(TrainerConfig(epochs=2, warmup_epochs=0, batch_size=8, quiet=True)),
            "entropy",
            budget=budget,
            test=color_dataset.select(range(48, 64)),
            query_size=4,
        )

    return make


def test_session_round_trip_submit_fit_next_query(
    make_learner: Callable[..., ActiveLearner], tmp_path: Path, color_dataset: Dataset
) -> None:
    save_dir = tmp_path / "session"
    learner = make_learner(tmp_path / "labels.jsonl")
    session = ActiveLearningSession(learner, save_dir=save_dir, batch_size=4, audit_share=0)
    assert (
        session.query is None and not (save_dir / "learner.json").exists()
    )  # __init__ neither asks nor saves
    session.start()
    first = session.query.indices.tolist()
    assert json.loads((save_dir / "learner.json").read_text())["pending"]["indices"] == first  # saved at once
    truth = color_dataset["label"]
    seen: list[str] = []
    session.status.observe(lambda change: seen.append(change["new"]), "value")
    widget = session.labeling
    for index in first[:3]:
        widget.class_buttons[truth[index]].click()
    widget.skip_button.click()
    widget.submit_button.click()
    assert session.wait(120)

    # The background round said what it did; afterwards the buttons came back.
    assert any("Training on 3 labels" in text for text in seen)
    assert not widget.submit_button.disabled and session.error.value == ""
    assert [r["outcome"] for r in session.fit_log] == ["trained"]
    assert [(r["type"], r["index"]) for r in records(tmp_path / "labels.jsonl")] == [
        ("label", first[0]),
        ("label", first[1]),
        ("label", first[2]),
        ("skip", first[3]),
    ]
    (record,) = learner.history
    assert record["num_labeled"] == 3 and record["queried"] == sorted(first[:3])
    assert (
        record["queried_class_histogram"] == np.bincount([truth[i] for i in first[:3]], minlength=4).tolist()
    )
    assert 0.0 <= record["accuracy"] <= 1.0
    assert f"After round 0: 3 labels · accuracy {record['accuracy']:.3f}" in session.report.summary.value
    # The diagram and the history use the same bins, so they print the same ECE.
    assert session.report.figure.axes[0].get_title() == f"test set (ECE = {format_ece(record['ece'])})"
    nxt = session.query.indices.tolist()
    assert session.query.round == 1 and len(nxt) == 4
    assert not set(nxt) & set(first)  # neither the labeled nor the skipped images come back
    saved = json.loads((save_dir / "learner.json").read_text())
    assert saved["pending"]["indices"] == nxt and len(saved["history"]) == 1


def test_session_resumes_with_the_labels_already_given(
    make_learner: Callable[..., ActiveLearner], tmp_path: Path, color_dataset: Dataset, names: list[str]
) -> None:
    save_dir = tmp_path / "session"
    session = ActiveLearningSession(
        make_learner(tmp_path / "labels.jsonl"), save_dir=save_dir, batch_size=4, audit_share=0
    ).start()
    for _ in range(4):
        session.labeling.class_buttons[0].click()
    session.labeling.submit_button.click()
    assert session.wait(120)
    batch = session.query.indices.tolist()
    session.labeling.class_buttons[1].click()
    # Two labels of round 1, not submitted yet; then the kernel "restarts".
    session.labeling.class_buttons[2].click()
    del session

    resumed = ActiveLearningSession.resume(
        save_dir, color_dataset, test=color_dataset.select(range(48, 64)), batch_size=4, audit_share=0
    )
    assert resumed.query.indices.tolist() == batch and resumed.query.round == 1
    assert resumed.learner.round == 1 and resumed.learner.num_labeled == 6
    states = state_texts(resumed.labeling)
    assert f"✓ {names[1]}" in states[0] and f"✓ {names[2]}" in states[1] and "not labeled" in states[2]
    assert "2 / 4 labeled in this batch" in resumed.labeling.progress_text.value
    assert resumed.labeling.selected == batch[2]
    # The report is drawn again from the saved history.
    assert "After round 0: 4 labels" in resumed.report.summary.value
    resumed.labeling.class_buttons[3].click()
    resumed.labeling.submit_button.click()
    assert resumed.wait(120)
    assert [r["num_labeled"] for r in resumed.learner.history] == [4, 7]


def test_session_errors_are_shown_and_nothing_is_lost(
    make_learner: Callable[..., ActiveLearner], tmp_path: Path
) -> None:
    session = ActiveLearningSession(
        make_learner(tmp_path / "labels.jsonl"), save_dir=tmp_path / "session", batch_size=4
    ).start()
    session.labeling.submit_button.click()  # nothing labeled or skipped: refused, no round used
    assert "Nothing to submit: label or skip at least one image" in session.labeling.error.value
    assert not session.labeling.submit_button.disabled and session.learner.history == []
    assert not session.busy and session.fit_log == []
    with pytest.raises(ValueError, match="labels live in memory only"):
        ActiveLearningSession(make_learner(None), save_dir=tmp_path / "other")
    empty = make_learner(tmp_path / "empty.jsonl", indices=[0, 1])
    empty.pool.skip(0)
    empty.pool.skip(1)
    with pytest.raises(ValueError, match="the pool has no unlabeled items to query"):
        ActiveLearningSession(empty).start()


def test_session_stops_when_the_budget_is_spent(
    make_learner: Callable[..., ActiveLearner], tmp_path: Path
) -> None:
    session = ActiveLearningSession(
        make_learner(tmp_path / "labels.jsonl", budget=4), save_dir=tmp_path / "s", batch_size=4
    ).start()
    for _ in range(4):
        session.labeling.class_buttons[1].click()
    session.labeling.submit_button.click()
    assert session.wait(120)
    assert session.finished and session.query is None
    assert session.stop_reason == "label budget spent"
    assert "Done: label budget spent after 1 rounds (4 labels)" in session.status.value
    assert session.labeling.submit_button.disabled
    # A click after the end says the session is over (not "wait for the next one").
    session.labeling.class_buttons[0].click()
    assert "This session is finished (label budget spent)" in session.labeling.error.value
    again = ActiveLearningSession.resume(tmp_path / "s", session.learner.pool.dataset)
    assert again.finished and again.labeling is None


def test_core_never_imports_ipywidgets() -> None:
    code = (
        "import sys, alnb, alnb.learner, alnb.pool, alnb.store, alnb.plots, alnb.models, alnb.training, "
        "alnb.datasets; print('ipywidgets' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    assert out.stdout.strip() == "False"
