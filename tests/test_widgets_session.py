"""Keyboard, accept-the-guess, audit, background rounds (label while training, cancel, failure), two views on
one label file and pseudo-labels, driven without a browser: real ipywidgets, a real label file, a real tiny
CLIP. A forward pre-hook (torch's public API) holds a fit at its first step so the test can act mid-fit."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from datasets import Dataset

from alnb.learner import ActiveLearner, Query
from alnb.pool import Pool
from alnb.store import LabelStore
from alnb.widgets import ActiveLearningSession, LabelingWidget
from alnb.widgets.keys import ESM, keyboard_control
from alnb.widgets.labeling import auto_tile_size, class_keys


def records(path: Path) -> list[dict]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines[1:]]


def make_query(indices: list[int], round: int = 0) -> Query:
    n = len(indices)
    return Query(
        indices=np.asarray(indices, dtype=np.int64),
        scores=np.linspace(1.0, 0.5, n),
        predicted=np.arange(n, dtype=np.int64) % 4,
        confidence=np.full(n, 0.6),
        round=round,
        strategy="entropy",
    )


# ------------------------------------------------------------------------------------------------- keys


def test_keys_label_accept_skip_undo_move_and_submit(pool: Pool, tmp_path: Path) -> None:
    submitted = []
    widget = LabelingWidget(pool, make_query([5, 3, 9, 11]), on_submit=submitted.append)
    widget.press("2")  # 5 -> class 1
    widget.press("a")  # 3 -> the model's guess (class 1 at position 1)
    widget.press("s")  # 9 skipped
    assert pool.store.labels == {5: 1, 3: 1} and pool.skipped.tolist() == [9]
    assert widget.selected == 11
    widget.press("backspace")  # undo the skip of 9, which is selected again
    assert pool.skipped.tolist() == [] and widget.selected == 9
    widget.press("space")
    assert widget.selected == 11
    widget.press("arrowleft")
    assert widget.selected == 9
    widget.press("ctrl+z")  # undo the accepted guess of 3
    assert pool.store.labels == {5: 1} and widget.selected == 3
    widget.press("f")
    assert widget.view.full_open and "#3</b> at full resolution (32×32 px)" in widget.view.full_caption.value
    widget.press("escape")
    assert not widget.view.full_open
    widget.press("4")
    widget.press("enter")
    (batch,) = submitted
    assert batch.labeled.tolist() == [5, 3] and batch.labels.tolist() == [1, 3]
    assert [(r["type"], r["index"]) for r in records(tmp_path / "labels.jsonl")] == [
        ("label", 5),
        ("label", 3),
        ("skip", 9),
        ("undo", 9),
        ("undo", 3),
        ("label", 3),
    ]
    with pytest.raises(ValueError, match="key='y' has no action"):
        widget.press("y")  # only 4 classes: the fifth class key is not bound


def test_keyboard_module_scope_and_buttons_show_keys(pool: Pool) -> None:
    widget = LabelingWidget(pool, make_query([1, 2]))
    keyboard = widget.input.keyboard
    assert keyboard is not None
    assert keyboard.scope == "." + widget._scope and widget._scope in widget._dom_classes
    assert keyboard.keymap["1"] == "label:0" and keyboard.keymap["Enter"] == "submit"
    assert keyboard.keymap["a"] == "accept" and keyboard.keymap["ctrl+z"] == "undo"
    # Keys act only inside the widget and never reach JupyterLab's command-mode shortcuts.
    for needle in ("el.closest(", "stopPropagation", "data-lm-suppress-shortcuts", "INPUT"):
        assert needle in ESM
    assert [b.description for b in widget.class_buttons][:2] == ["1 · red", "2 · green"]
    assert class_keys(12)[9:] == ("0", "q", "w")
    calls: list[str] = []
    control = keyboard_control({"x": "go"}, calls.append, scope=".here")
    control._handle_custom_msg({"action": "go", "seq": 1}, [])
    assert calls == ["go"]
    no_keys = LabelingWidget(pool, make_query([1]), keyboard=False)
    assert no_keys.input.keyboard is None and not no_keys.class_buttons[0].disabled


def test_tiles_follow_the_image_size_and_resize_live(pool: Pool) -> None:
    widget = LabelingWidget(pool, make_query([4, 6]))
    assert widget.view.tile_size == 160 == auto_tile_size(pool.dataset[4]["image"])  # 32 px × 5
    assert widget.tiles[0].children[1].layout.width == "160px"
    widget.input.tile_size.value = 256
    assert widget.tiles[0].children[1].layout.width == "256px"
    assert "minmax(280px" in widget.grid.layout.grid_template_columns


def test_two_views_on_one_label_file_undo_only_their_own(
    tmp_path: Path, color_dataset: Dataset, names
) -> None:
    path = tmp_path / "labels.jsonl"
    first = LabelingWidget(Pool.from_file(path, color_dataset, names), make_query([1, 2, 3]))
    second = LabelingWidget(Pool.from_file(path, color_dataset, names), make_query([1, 2, 3]))
    first.label(0, index=1)
    second.label(2, index=2)
    first.undo()  # reverts the label of 1 (its own), not the later label of 2 given in the other view
    assert first.pool.store.labels == {2: 2} and second.pool.store.labels == {2: 2}
    with pytest.raises(ValueError, match="Nothing to undo in this batch"):
        first.undo()
    assert second.undo().index == 2
    assert first.pool.store.labels == {}


def test_pseudo_labels_are_marked_and_can_be_reverted_or_replaced(pool: Pool) -> None:
    pool.store.label([3, 9], [2, 1], annotator="model", pseudo=True)
    widget = LabelingWidget(pool, make_query([3, 9, 11]))
    states = [tile.children[3].value for tile in widget.tiles]
    assert "model's pseudo-label" in states[0] and "alnb-pseudo" in states[1] and "not labeled" in states[2]
    widget.revert(index=3)
    assert 3 not in pool.store.labels and pool.store.pseudo_labels == {9: 1}
    widget.label(0, index=9)  # a person's label replaces the pseudo-label
    assert pool.store.human_labels == {9: 0} and pool.store.pseudo_labels == {}
    assert "✓" in widget.tiles[1].children[3].value


# ------------------------------------------------------------------------------------------------- session


@pytest.fixture()
def make_learner(clip_dir: str, color_dataset: Dataset, names: list[str]) -> Callable[..., ActiveLearner]:
    from alnb.models import load_classifier
    from alnb.training import Trainer, TrainerConfig

    def make(store_path: Path, budget: int = 24, test: bool = False) -> ActiveLearner:
        pool = Pool.from_file(store_path, color_dataset, names, indices=list(range(48)))
        return ActiveLearner(
            load_classifier(clip_dir, names, adapter="coop", n_ctx=2),
            pool,
            Trainer(TrainerConfig(epochs=2, warmup_epochs=0, batch_size=8, quiet=True)),
            "entropy",
            budget=budget,
            test=color_dataset.select(range(48, 64)) if test else None,
            query_size=4,
        )

    return make


class Gate:
    """Holds every training step of a classifier until opened (a forward pre-hook: torch's public API)."""

    def __init__(self, classifier: object) -> None:
        self.reached = threading.Event()
        self.opened = threading.Event()
        self.handle = classifier.register_forward_pre_hook(self._hook)  # type: ignore[attr-defined]

    def _hook(self, module, _inputs) -> None:
        if module.training:
            self.reached.set()
            assert self.opened.wait(60), "the test never opened the gate"

    def close(self) -> None:
        self.opened.set()
        self.handle.remove()


@pytest.fixture()
def gate_for() -> Iterator[Callable[[ActiveLearner], Gate]]:
    gates: list[Gate] = []

    def make(learner: ActiveLearner) -> Gate:
        gates.append(Gate(learner.classifier))
        return gates[-1]

    yield make
    for gate in gates:
        gate.close()


def label_truth(session: ActiveLearningSession, truth: list[int], count: int | None = None) -> list[int]:
    widget = session.labeling
    done = []
    for index in widget.query.indices.tolist()[:count]:
        widget.label(truth[index], index=index)
        done.append(index)
    return done


def test_label_the_next_batch_while_the_model_trains(
    make_learner, gate_for, tmp_path: Path, color_dataset: Dataset
) -> None:
    truth = color_dataset["label"]
    save_dir = tmp_path / "s"
    learner = make_learner(tmp_path / "labels.jsonl")
    session = ActiveLearningSession(learner, save_dir=save_dir, batch_size=5, audit_share=0.2).start()
    first = session.query.indices.tolist()
    assert len(first) == 5 and len(session.labeling.audit) == 1  # 4 by entropy + 1 audit
    label_truth(session, truth)
    gate = gate_for(learner)
    session.labeling.press("enter")
    assert gate.reached.wait(60) and session.busy
    # Mid-fit: the kernel is free, the next batch (from the previous model) is shown and can be labeled.
    offered = session.labeling.query
    assert offered.round == 1 and not set(offered.indices.tolist()) & set(first)
    assert session.controller.holding and session.cancel_button.layout.display == "flex"
    held = label_truth(session, truth, count=2)
    assert (save_dir / "labels-while-training.jsonl").is_file()  # durable while held
    assert not set(held) & set(learner.pool.labeled.tolist())  # not in the pool the model trains on
    gate.close()
    assert session.wait(120)
    (record,) = learner.history
    assert record["num_labeled"] == 5 and sorted(record["queried"]) == sorted(first)
    # The person had started the offered batch, so it stays; its labels moved into the pool in round 1.
    assert session.query.indices.tolist() == offered.indices.tolist() and session.query.round == 1
    assert not (save_dir / "labels-while-training.jsonl").exists()
    round_1 = {r["index"] for r in records(tmp_path / "labels.jsonl") if r["round"] == 1}
    assert round_1 == set(held)
    assert (
        json.loads((save_dir / "learner.json").read_text())["pending"]["indices"] == offered.indices.tolist()
    )
    audit = json.loads((save_dir / "audit.json").read_text())["rounds"]
    assert {int(r) for r in audit} == {0, 1} and len(audit["1"]) == 1
    # The audit estimate uses the audit image of round 0, judged against the prediction made when drawn.
    est = session.audit_estimate()
    assert est.n == 1 and est.accuracy is not None and "Wilson" in session.audit_line.value
    assert [f["outcome"] for f in session.fit_log] == ["trained"]


def test_cancel_a_fit_and_a_failing_fit_keep_every_label(
    make_learner, gate_for, tmp_path: Path, color_dataset: Dataset
) -> None:
    truth = color_dataset["label"]
    learner = make_learner(tmp_path / "labels.jsonl")
    session = ActiveLearningSession(learner, save_dir=tmp_path / "s", batch_size=4, audit_share=0).start()
    first = label_truth(session, truth)
    gate = gate_for(learner)
    session.labeling.submit_button.click()
    assert gate.reached.wait(60)
    held = label_truth(session, truth, count=1)  # one label on the offered batch, held
    session.cancel_button.click()
    gate.close()
    assert session.wait(120)
    assert learner.history == [] and session.fit_log[-1]["outcome"] == "cancelled"
    assert "Fit cancelled" in session.status.value
    assert session.query.indices.tolist() == first  # the submitted batch is back, to submit again
    assert set(learner.pool.labeled.tolist()) == set(first) | set(held)  # nothing lost

    def broken(module, _inputs) -> None:
        if module.training:
            raise RuntimeError("out of <memory>")

    handle = learner.classifier.register_forward_pre_hook(broken)
    session.labeling.submit_button.click()
    assert session.wait(120)
    handle.remove()
    assert (
        "Training failed (RuntimeError: out of &lt;memory&gt;). Every label is saved." in session.error.value
    )
    assert learner.history == [] and set(learner.pool.labeled.tolist()) == set(first) | set(held)
    assert not session.labeling.submit_button.disabled
    session.labeling.submit_button.click()  # retry works
    assert session.wait(120) and len(learner.history) == 1


def test_held_labels_of_a_killed_fit_come_back_on_start(
    make_learner, tmp_path: Path, color_dataset: Dataset, names: list[str]
) -> None:
    save_dir = tmp_path / "s"
    learner = make_learner(tmp_path / "labels.jsonl")
    session = ActiveLearningSession(learner, save_dir=save_dir, batch_size=4, audit_share=0).start()
    session.labeling.label(0)
    # The kernel died mid-fit with two labels held: the holding file is all that is left of them.
    held = LabelStore(save_dir / "labels-while-training.jsonl", names)
    held.label([40, 41], [1, 2])
    held.skip(42)
    del session, held
    resumed = ActiveLearningSession.resume(save_dir, color_dataset, batch_size=4, audit_share=0)
    labels = resumed.learner.pool.store.labels
    assert labels[40] == 1 and labels[41] == 2 and 42 in resumed.learner.pool.store.skipped
    assert not (save_dir / "labels-while-training.jsonl").exists()


def test_only_skips_do_not_retrain(make_learner, tmp_path: Path) -> None:
    learner = make_learner(tmp_path / "labels.jsonl")
    session = ActiveLearningSession(learner, batch_size=4, audit_share=0, background=False).start()
    session.labeling.label(1)
    session.labeling.submit()
    assert len(learner.history) == 1
    batch = session.query.indices.tolist()
    session.labeling.skip()
    session.labeling.submit()
    assert len(learner.history) == 1  # no round used
    assert "not retrained" in session.status.value
    assert session.query.indices.tolist() != batch and batch[0] in learner.pool.skipped


def test_batch_size_is_adjustable_live(make_learner, tmp_path: Path) -> None:
    learner = make_learner(tmp_path / "labels.jsonl", budget=40)
    session = ActiveLearningSession(learner, batch_size=4, audit_share=0.25, background=False).start()
    assert len(session.query) == 4 and len(session.labeling.audit) == 1
    session.batch_size.value = 7
    session.labeling.label(0)
    session.labeling.submit()
    assert len(session.query) == 7 and len(session.labeling.audit) == 2
    with pytest.raises(ValueError, match=r"batch_size must be an integer in \[1, 200\]"):
        ActiveLearningSession(learner, batch_size=0)
    with pytest.raises(ValueError, match="audit_share must lie in"):
        ActiveLearningSession(learner, audit_share=1.5)


def test_report_without_a_test_set_shows_the_audit_and_earlier_sessions(
    make_learner, tmp_path: Path, color_dataset: Dataset
) -> None:
    truth = color_dataset["label"]
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    (earlier / "learner.json").write_text(
        json.dumps({"history": [{"num_labeled": 4, "accuracy": 0.3, "ece": 0.2}]})
    )
    learner = make_learner(tmp_path / "labels.jsonl")
    session = ActiveLearningSession(
        learner, batch_size=5, audit_share=0.4, background=False, baselines={"earlier": earlier}
    ).start()
    assert len(session.labeling.audit) == 2 and "+ 2 drawn at random (audit)" in session.labeling.title.value
    assert "audit</b> · drawn at random" in session.labeling.tiles[-1].children[2].value
    label_truth(session, truth)
    session.labeling.submit()
    est = session.audit_estimate()
    assert est.n == 2 and est.rounds == (0,)
    texts = [t.get_text() for t in session.report.figure.axes[0].texts]
    assert any("audit estimate from\n2 images drawn at random" in t and "Wilson 95%" in t for t in texts)
    assert "alnb-audit-summary" in session.report.summary.value
    # Without a test set the accuracy panel is the per-round audit curve (zero-shot model audited at 0 labels).
    titles = [ax.get_title() for ax in session.report.figure.axes]
    assert "accuracy on the audit images, per round" in titles
    assert session.report.audit_curve[0][0] == 0 and session.report.audit_curve[0][1] == est.accuracy.estimate
    with pytest.raises(ValueError, match="neither a session folder"):
        ActiveLearningSession(learner, baselines={"gone": tmp_path / "missing"})


def test_review_pseudo_labels_confirm_correct_revert(make_learner, tmp_path: Path) -> None:
    learner = make_learner(tmp_path / "labels.jsonl")
    session = ActiveLearningSession(learner, batch_size=4, audit_share=0, background=False).start()
    shown = session.query.indices.tolist()
    assert session.review_pseudo_labels() is None and "no pseudo-label to review" in session.status.value
    spare = [i for i in range(48) if i not in shown][:3]
    learner.pool.store.label(spare, [0, 1, 2], annotator="model", pseudo=True)
    review = session.review_pseudo_labels()
    assert review is not None and review.indices.tolist() == sorted(spare)
    widget = session.labeling
    assert all("model's pseudo-label" in tile.children[3].value for tile in widget.tiles)
    assert (
        "guess: <b>" in widget.tiles[0].children[2].value and "nan" not in widget.tiles[0].children[2].value
    )
    widget.select(spare[0])
    widget.press("a")  # confirmed: now a person's label
    assert widget.error.value == "", widget.error.value
    widget.press("4")  # spare[1] corrected to class 3
    widget.press("delete")  # spare[2] reverted to unlabeled
    store = learner.pool.store
    assert store.human_labels == {spare[0]: 0, spare[1]: 3} and store.pseudo_labels == {}
    assert spare[2] in learner.pool.unlabeled
    widget.press("enter")  # ends the review without training
    assert session.query.indices.tolist() == shown and learner.history == []


def test_a_key_pressed_for_an_earlier_batch_does_nothing(pool: Pool) -> None:
    widget = LabelingWidget(pool, make_query([5, 3, 9]))
    keyboard = widget.input.keyboard
    seen = keyboard.generation
    widget.set_query(make_query([5, 3, 9]))  # the same images again: same batch, the selection stays
    assert keyboard.generation == seen
    widget.set_query(make_query([20, 21], round=1))
    assert keyboard.generation == seen + 1
    # The page pressed "1" while it still showed the old batch: refused, shown, nothing written.
    keyboard._handle_custom_msg({"action": "label:0", "seq": 7, "generation": seen}, [])
    assert pool.store.labels == {} and widget.input.stale_keys == 1
    assert "The batch changed before your key arrived" in widget.error.value
    # Pressed in the first moments of the new tiles (the page says "not fresh"): refused too.
    keyboard._handle_custom_msg({"action": "label:0", "seq": 8, "generation": seen + 1, "fresh": False}, [])
    assert pool.store.labels == {} and widget.input.stale_keys == 2
    keyboard._handle_custom_msg({"action": "label:0", "seq": 9, "generation": seen + 1, "fresh": True}, [])
    assert pool.store.labels == {20: 0}


def test_the_session_takes_the_pools_image_column(clip_dir: str, color_dataset: Dataset, names: list[str]) -> None:
    from alnb.models import load_classifier
    from alnb.training import Trainer, TrainerConfig

    renamed = color_dataset.rename_column("image", "img")
    learner = ActiveLearner(
        load_classifier(clip_dir, names, adapter="coop", n_ctx=2),
        Pool(renamed, names, image_column="img", indices=list(range(16))),
        Trainer(TrainerConfig(epochs=1, batch_size=8, quiet=True)),
        "entropy",
        query_size=4,
    )
    session = ActiveLearningSession(learner, audit_share=0, background=False).start()
    assert session.image_column == "img"
    assert len(session.labeling.tiles) == len(session.query.indices) > 0  # the tiles read column img
    with pytest.raises(ValueError, match=r"image_column='image' differs from the pool's image_column='img'"):
        ActiveLearningSession(learner, image_column="image")
