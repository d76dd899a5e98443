"""Pseudo-labels, session-scoped undo (two views on one label file) and conflict rules of the label store."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from alnb.store import Action, LabelLog, LabelStore

NAMES = ["cat", "dog", "bird"]


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# ---------------------------------------------------------------------------------------------- pseudo-labels
def test_pseudo_labels_count_for_training_not_for_the_budget(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    store = LabelStore(path, NAMES)
    store.label([1, 2], [0, 1], annotator="model", pseudo=True)
    store.label(3, 2, annotator="alice")
    assert store.labels == {1: 0, 2: 1, 3: 2}
    assert store.human_labels == {3: 2} and store.pseudo_labels == {1: 0, 2: 1}
    assert store.current_action(1).pseudo and not store.current_action(3).pseudo
    records = _lines(path)[1:]
    assert [r.get("pseudo") for r in records] == [True, True, None]  # written only when true

    store.label(1, 2, annotator="alice")  # a person's label replaces the model's
    assert store.human_labels == {1: 2, 3: 2} and store.pseudo_labels == {2: 1}
    assert store.undo().index == 1  # undo of the human label brings the pseudo-label back
    assert store.pseudo_labels == {1: 0, 2: 1}
    store.unlabel(2)
    assert store.labels == {1: 0, 3: 2}
    assert LabelStore(path, NAMES).state() == store.state()  # the flag survives reopening


def test_undo_reverts_a_pseudo_label_like_any_other() -> None:
    store = LabelStore.in_memory(NAMES)
    store.label(4, 1, annotator="model", pseudo=True)
    assert store.undo_target().pseudo
    assert store.undo().pseudo and store.labels == {}


def test_exports_leave_pseudo_labels_out_unless_asked(tmp_path: Path) -> None:
    store = LabelStore.in_memory(NAMES)
    store.label([5, 6], [0, 1], annotator="model", pseudo=True)
    store.label(7, 2)
    assert [r["index"] for r in store.to_records()] == [7]
    assert "pseudo" not in store.to_records()[0]
    both = store.to_records(include_pseudo=True)
    assert [(r["index"], r["pseudo"], r["annotator"]) for r in both] == [
        (5, True, "model"),
        (6, True, "model"),
        (7, False, "human"),
    ]
    store.to_csv(tmp_path / "a.csv")
    with (tmp_path / "a.csv").open() as f:
        assert [row["index"] for row in csv.DictReader(f)] == ["7"]
    store.to_csv(tmp_path / "b.csv", include_pseudo=True)
    with (tmp_path / "b.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [(r["index"], r["pseudo"]) for r in rows] == [("5", "True"), ("6", "True"), ("7", "False")]
    assert [r["index"] for r in json.loads(store.to_json(tmp_path / "a.json").read_text())["labels"]] == [7]
    table = store.to_dataset(include_pseudo=True)
    assert table["pseudo"] == [True, True, False] and store.to_dataset()["index"] == [7]


def test_old_records_read_as_human_labels_and_bad_flags_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    LabelStore(path, NAMES)
    old = {"type": "label", "index": 3, "label": 1, "round": 0, "annotator": "human", "time": "t"}
    with path.open("a") as f:
        f.write(json.dumps(old) + "\n")
    store = LabelStore(path, NAMES)
    assert store.human_labels == {3: 1} and store.actions[0] == Action("label", 3, 1, 0, "human", "t")
    assert store.actions[0].to_dict() == old  # an old record is written back byte for byte the same
    with path.open("a") as f:
        f.write(json.dumps({**old, "index": 4, "pseudo": "yes"}) + "\n")
    with pytest.raises(ValueError, match=r"line 3 .*pseudo is 'yes'"):
        LabelStore(path, NAMES)
    with pytest.raises(ValueError, match="pseudo must be True or False"):
        LabelStore.in_memory(NAMES).label(1, 1, pseudo="yes")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------- two views
def test_two_stores_on_one_file_undo_only_their_own_labels(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    first = LabelStore(path, NAMES)  # a notebook cell ...
    second = LabelStore(path, NAMES)  # ... run twice, or a second notebook
    first.label(1, 0)
    second.label(2, 1)
    second.label(1, 2)  # the second view relabels what the first labeled
    assert first.undo_target() == first.actions[0]
    assert first.undo().index == 1
    # The first view's label of 1 is withdrawn, the second's later label of 1 stays.
    assert first.labels == second.labels == {1: 2, 2: 1}
    assert first.undo() is None
    assert second.undo().index == 1 and second.labels == {2: 1}
    assert second.undo().index == 2 and second.labels == {}
    assert LabelStore(path, NAMES).state() == first.state()


_WRITER = """
import sys
from alnb.store import LabelStore
store = LabelStore(sys.argv[1], ["cat", "dog", "bird"])
store.label([10, 11], [1, 2], annotator="other-notebook")
print(store.session)
"""


def test_undo_never_reverts_a_label_another_process_gave(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    mine = LabelStore(path, NAMES)
    mine.label(1, 0)
    done = subprocess.run(
        [sys.executable, "-c", _WRITER, str(path)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    other_session = done.stdout.strip()
    assert mine.labels == {1: 0, 10: 1, 11: 2}
    assert mine.undo().index == 1 and mine.undo() is None
    assert mine.labels == {10: 1, 11: 2}
    # The other process's session can be resumed to undo its actions.
    resumed = LabelStore(path, NAMES, session=other_session)
    assert resumed.undo().index == 11 and resumed.labels == {10: 1}


def test_legacy_records_keep_the_global_undo_stack() -> None:
    log = LabelLog(3)
    for a in [Action("label", 1, 0, 0, "h", "t"), Action("label", 2, 1, 0, "h", "t")]:
        log.apply(a)
    assert log.undo_target().index == 2 and log.can_undo
    log.apply(Action("undo", 2, 1, 0, "h", "t"))
    assert log.labels == {1: 0} and log.undo_target().index == 1


def test_session_argument_is_checked() -> None:
    with pytest.raises(ValueError, match="session must be a non-empty string"):
        LabelStore.in_memory(NAMES).__class__(None, NAMES, session="  ")


# ---------------------------------------------------------------------------------------------- conflicts
def _disputed(rule: str = "latest") -> LabelStore:
    store = LabelStore.in_memory(NAMES)
    store.label(1, 0, annotator="alice")
    store.label(1, 2, annotator="bob")
    store.label(1, 2, annotator="carol")
    store.label(1, 0, annotator="dave")  # 0: alice, dave; 2: bob, carol; latest vote 0
    store.label(2, 1, annotator="alice")
    store.label(2, 1, annotator="bob")  # agreement is no conflict
    store.label(3, 0, annotator="alice")
    store.label(3, 1, annotator="alice")  # a person's relabel replaces their own vote
    store.label(4, 1, annotator="model", pseudo=True)
    store.label(4, 2, annotator="bob")  # a pseudo-label is no vote
    store.label(5, 0, annotator="alice")
    store.label(5, 1, annotator="bob")
    store.label(5, 2, annotator="bob")
    store.conflict_rule = rule  # type: ignore[assignment]
    return store


def test_conflicting_votes_are_all_kept_and_listed() -> None:
    store = _disputed()
    conflicts = store.conflicts()
    assert [c.index for c in conflicts] == [1, 5]
    one = conflicts[0]
    assert one.votes == {"alice": 0, "bob": 2, "carol": 2, "dave": 0}
    assert [a.annotator for a in one.actions] == ["alice", "bob", "carol", "dave"]
    assert one.latest == 0 and one.majority == 0  # a tie goes to the most recent vote
    assert conflicts[1].votes == {"alice": 0, "bob": 2} and conflicts[1].majority == 2
    assert store.labels == {1: 0, 2: 1, 3: 1, 4: 2, 5: 2}  # "latest": today's behaviour


def test_majority_rule_takes_most_votes() -> None:
    store = _disputed("majority")
    store.label(1, 2, annotator="erin")  # now 2 has three votes
    assert store.labels[1] == 2 and store.current_action(1).annotator == "erin"
    store.label(1, 0, annotator="frank")  # 3 against 3: the most recent vote wins the tie
    assert store.labels[1] == 0
    records = {r["index"]: r for r in store.to_records()}
    assert records[1]["annotator"] == "frank"


def test_ask_rule_holds_conflicts_back_until_resolved() -> None:
    store = _disputed("ask")
    assert store.labels == {2: 1, 3: 1, 4: 2} and 1 not in store.human_labels
    assert [r["index"] for r in store.to_records()] == [2, 3, 4]
    written = store.resolve(1, 2, annotator="lead", round=1)
    assert [(a.type, a.annotator) for a in written] == [("unlabel", "lead"), ("label", "lead")]
    assert store.labels[1] == 2 and [c.index for c in store.conflicts()] == [5]
    assert len([a for a in store.actions if a.index == 1 and a.type == "label"]) == 5  # every vote kept
    store.undo()
    store.undo()  # taking the resolution back brings the conflict back
    assert [c.index for c in store.conflicts()] == [1, 5] and 1 not in store.labels


def test_a_reset_clears_the_votes_and_the_rule_is_checked() -> None:
    store = _disputed()
    store.skip(5, annotator="carol")
    assert [c.index for c in store.conflicts()] == [1]
    store.label(5, 0, annotator="alice")
    assert [c.index for c in store.conflicts()] == [1]
    with pytest.raises(
        ValueError, match=r"conflict_rule must be one of 'ask', 'latest', 'majority'; got 'vote'"
    ):
        store.conflict_rule = "vote"  # type: ignore[assignment]
    with pytest.raises(ValueError, match="conflict_rule must be one of"):
        LabelStore.in_memory(NAMES, None).__class__(None, NAMES, conflict_rule="first")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"label is 7, expected a class id in \[0, 3\)"):
        store.resolve(1, 7)
