"""LabelStore: durability (reopen, torn lines, killed writers), replay and undo, refusals, exports."""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from alnb.store import Action, LabelStore, TornRecordWarning, dataset_fingerprint

NAMES = ["cat", "dog", "bird"]


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _reference_state(actions: list[Action]) -> tuple[dict[int, int], set[int]]:
    """Independent replay: drop undone actions first (a stack of survivors), then apply the rest in order."""
    survivors: list[Action] = []
    for a in actions:
        if a.type == "undo":
            survivors.pop()
        else:
            survivors.append(a)
    labels: dict[int, int] = {}
    skipped: set[int] = set()
    for a in survivors:
        labels.pop(a.index, None)
        skipped.discard(a.index)
        if a.type == "label":
            labels[a.index] = a.label
        elif a.type == "skip":
            skipped.add(a.index)
    return labels, skipped


# ---------------------------------------------------------------------------------------------- persistence
def test_file_layout_header_then_one_line_per_item(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    store = LabelStore(path, NAMES, dataset_fingerprint="fp-1")
    header = _lines(path)[0]
    assert header["type"] == "header" and header["version"] == 1
    assert header["class_names"] == NAMES and header["dataset"] == "fp-1"
    assert isinstance(header["created"], str)

    written = store.label([5, 2], [1, 0], round=3, annotator="alice")
    records = _lines(path)  # read from disk while the store is still open: nothing is buffered
    assert len(records) == 3
    assert [(r["type"], r["index"], r["label"], r["round"], r["annotator"]) for r in records[1:]] == [
        ("label", 5, 1, 3, "alice"),
        ("label", 2, 0, 3, "alice"),
    ]
    assert [a.to_dict() for a in written] == records[1:]
    # pseudo is written only when true; session names the opened store (the scope of its undo)
    assert set(records[1]) == {"type", "index", "label", "round", "annotator", "time", "session"}
    assert records[1]["session"] == store.session


def test_reopen_rebuilds_identical_state(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    store = LabelStore(path, NAMES)
    store.label([0, 1, 2, 3], [0, 1, 2, 1], round=0)
    store.skip(7, round=1)
    store.label(1, 2, round=1)  # relabel
    store.unlabel(3, round=1)
    store.undo(round=1)  # brings 3 back with label 1
    store.label(9, 0, round=2, annotator="oracle")
    reopened = LabelStore(path, NAMES)
    assert reopened.state() == store.state()
    assert reopened.labels == {0: 0, 1: 2, 2: 2, 3: 1, 9: 0}
    assert reopened.skipped == frozenset({7})
    assert reopened.last_round == 2
    assert reopened.labels_in_round(1) == {1: 2}
    assert reopened.labels_in_round(0) == {0: 0, 2: 2, 3: 1}
    assert reopened.current_action(9).annotator == "oracle"


def test_missing_parent_folders_are_created(tmp_path: Path) -> None:
    path = tmp_path / "runs" / "session" / "labels.jsonl"
    LabelStore(path, NAMES).label(1, 1)
    assert LabelStore(path, NAMES).labels == {1: 1}


def test_torn_last_line_is_moved_aside_with_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    store = LabelStore(path, NAMES)
    store.label([4, 8], [2, 1])
    good = path.read_bytes()
    torn = b'{"type": "label", "index": 11, "la'
    with path.open("ab") as f:
        f.write(torn)

    with pytest.warns(TornRecordWarning, match=r"labels\.jsonl: line 4 is an incomplete record") as rec:
        reopened = LabelStore(path, NAMES)
    assert str(path) in str(rec[0].message)
    assert reopened.labels == {4: 2, 8: 1}
    assert path.read_bytes() == good  # truncated to the last complete line
    saved = list(tmp_path.glob("labels.jsonl.torn-*"))
    assert len(saved) == 1 and saved[0].read_bytes() == torn  # nothing silently deleted

    reopened.label(11, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a clean file reopens without any warning
        assert LabelStore(path, NAMES).labels == {4: 2, 8: 1, 11: 0}


def test_torn_tail_of_zero_bytes_is_recovered(tmp_path: Path) -> None:
    # Some filesystems leave NUL bytes when a crash extends the file before the data reaches the disk.
    path = tmp_path / "labels.jsonl"
    LabelStore(path, NAMES).label(3, 1)
    with path.open("ab") as f:
        f.write(b"\x00" * 17)
    with pytest.warns(TornRecordWarning, match="line 3"):
        assert LabelStore(path, NAMES).labels == {3: 1}


def test_complete_last_record_without_newline_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    store = LabelStore(path, NAMES)
    store.label(1, 0)
    record = store.label(2, 2)[0]
    data = path.read_bytes()
    path.write_bytes(data[:-1])  # only the newline was lost
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reopened = LabelStore(path, NAMES)
    assert reopened.labels == {1: 0, 2: 2}
    assert reopened.actions[-1] == record
    assert path.read_bytes() == data  # the newline was restored
    assert not list(tmp_path.glob("*.torn-*"))


def test_torn_header_starts_a_fresh_file(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    path.write_bytes(b'{"type": "header", "vers')
    with pytest.warns(TornRecordWarning, match="line 1"):
        store = LabelStore(path, NAMES)
    store.label(0, 1)
    assert _lines(path)[0]["class_names"] == NAMES
    assert LabelStore(path, NAMES).labels == {0: 1}


def test_corrupt_middle_line_is_an_error_not_skipped(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    LabelStore(path, NAMES).label([1, 2, 3], [0, 1, 2])
    lines = path.read_bytes().split(b"\n")
    lines[2] = b'{"type": "label", "index": 2, "la'  # line 3 of the file
    path.write_bytes(b"\n".join(lines))
    before = path.read_bytes()
    with pytest.raises(ValueError, match=r"labels\.jsonl: line 3 is not a valid record"):
        LabelStore(path, NAMES)
    assert path.read_bytes() == before  # refusing to open changes nothing


def test_semantically_invalid_line_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    LabelStore(path, NAMES).label(1, 0)
    with path.open("a") as f:
        bad = {"type": "label", "index": 2, "label": 7, "round": 0, "annotator": "x", "time": "t"}
        f.write(json.dumps(bad))
        f.write("\n")
    with pytest.raises(ValueError, match=r"line 3 is not a valid action: label is 7"):
        LabelStore(path, NAMES)


_CHILD = """
import os, sys
from alnb.store import LabelStore
store = LabelStore(sys.argv[1], ["cat", "dog", "bird"])
for i in range(5):
    store.label(100 + i, i % 3, round=0, annotator="human")
os._exit(1)  # no close, no flush, no atexit: like a killed kernel
"""


def test_process_exiting_abruptly_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    done = subprocess.run([sys.executable, "-c", _CHILD, str(path)], capture_output=True, timeout=120)
    assert done.returncode == 1, done.stderr.decode()
    assert LabelStore(path, NAMES).labels == {100: 0, 101: 1, 102: 2, 103: 0, 104: 1}


_LOOPER = """
import sys
from alnb.store import LabelStore
store = LabelStore(sys.argv[1], ["cat", "dog", "bird"])
i = 0
while True:
    store.label(i, i % 3)
    print(i, flush=True)  # printed only after label() returned
    i += 1
"""


def test_sigkill_during_a_labeling_loop_keeps_every_returned_label(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    child = subprocess.Popen([sys.executable, "-c", _LOOPER, str(path)], stdout=subprocess.PIPE)
    try:
        confirmed = [int(child.stdout.readline()) for _ in range(30)]
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
        child.stdout.close()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TornRecordWarning)  # the kill may or may not tear a line
        labels = LabelStore(path, NAMES).labels
    assert all(labels[i] == i % 3 for i in confirmed)
    assert sorted(labels) == list(range(len(labels)))  # a prefix of the sequence, no holes


# ---------------------------------------------------------------------------------------------- refusals
def test_other_class_names_are_refused_naming_both(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    LabelStore(path, NAMES).label(0, 0)
    with pytest.raises(ValueError, match=r"\['cat', 'dog', 'bird'\].*\['cat', 'bird', 'dog'\]"):
        LabelStore(path, ["cat", "bird", "dog"])


def test_other_dataset_is_refused_naming_both(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    LabelStore(path, NAMES, dataset_fingerprint="digits-v1")
    with pytest.raises(ValueError, match=r"'digits-v1'.*'glyphs-v2'"):
        LabelStore(path, NAMES, dataset_fingerprint="glyphs-v2")
    # None skips the check and takes the file's fingerprint
    assert LabelStore(path, NAMES).dataset_fingerprint == "digits-v1"


def test_not_a_store_and_other_versions_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.jsonl"
    path.write_text('{"hello": 1}\n')
    with pytest.raises(ValueError, match="line 1 must be the header"):
        LabelStore(path, NAMES)
    path.write_text(json.dumps({"type": "header", "version": 99, "class_names": NAMES}) + "\n")
    with pytest.raises(ValueError, match="version 99 is unsupported, expected 1"):
        LabelStore(path, NAMES)


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["a", "b", "a", "c", "c"], r"duplicates \['a', 'c'\]"),
        (["a", ""], "non-empty strings"),
        ([], "at least one class"),
        ("abc", "sequence of strings"),
    ],
)
def test_bad_class_names_are_refused(names: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        LabelStore.in_memory(names)


def test_bad_input_leaves_the_file_byte_identical(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    store = LabelStore(path, NAMES)
    store.label([1, 2], [0, 1])
    store.skip(5)
    before = path.read_bytes()
    bad_calls = [
        (lambda: store.label([3, 4], [0, 3]), r"labels contains \[3\], expected class ids in \[0, 3\)"),
        (lambda: store.label([3, 4], [0]), "labels has 1 items but indices has 2"),
        (lambda: store.label([3, 3], [0, 1]), r"duplicates \[3\]"),
        (lambda: store.label([3, -1], [0, 1]), r"indices contains \[-1\]"),
        (lambda: store.label([3, 4], [0.0, 1.0]), "labels must be an integer"),
        (lambda: store.label(True, 1), "indices must be an integer"),
        (lambda: store.label(3, 1, round=-1), "round must be a non-negative integer, got -1"),
        (lambda: store.label(3, 1, annotator=""), "annotator must be a non-empty string"),
        (lambda: store.unlabel(9), "index 9 is neither labeled nor skipped"),
        (lambda: store.skip(5), "index 5 is already skipped"),
        (lambda: store.skip([1, 2]), "index must be one integer"),
    ]
    for call, message in bad_calls:
        with pytest.raises(ValueError, match=message):
            call()
        assert path.read_bytes() == before
    assert store.labels == {1: 0, 2: 1} and store.skipped == frozenset({5})


# ---------------------------------------------------------------------------------------------- semantics
def test_undo_reverts_one_action_at_a_time_like_an_editor() -> None:
    store = LabelStore.in_memory(NAMES)
    store.label(3, 0)
    store.label(3, 1)  # relabel
    store.skip(3)  # withdraws the label
    assert store.labels == {} and store.skipped == {3}
    assert store.undo() == store.actions[2]  # returns the skip it reverted
    assert store.labels == {3: 1} and store.skipped == set()
    assert store.undo().label == 1
    assert store.labels == {3: 0}
    assert store.undo().label == 0
    assert store.labels == {}
    n = len(store.actions)
    assert store.undo() is None  # nothing left: returns None and records nothing
    assert len(store.actions) == n
    assert not store.can_undo


def test_undo_of_unlabel_restores_label_and_its_round() -> None:
    store = LabelStore.in_memory(NAMES)
    store.label(4, 2, round=0, annotator="alice")
    store.unlabel(4, round=1)
    assert store.labels == {}
    store.undo(round=1)
    assert store.labels == {4: 2}
    assert store.labels_in_round(0) == {4: 2}  # the label keeps the round and annotator it was given in
    assert store.current_action(4).annotator == "alice"


def test_undo_after_reopen_and_its_record(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    store = LabelStore(path, NAMES)
    store.label([10, 20], [1, 2])
    store.undo()
    reopened = LabelStore(path, NAMES, session=store.session)
    assert reopened.labels == {10: 1}
    undone = reopened.undo(round=4, annotator="bob")  # the session's stack survives reopening
    assert (undone.type, undone.index, undone.label) == ("label", 10, 1)
    assert reopened.labels == {}
    last = _lines(path)[-1]
    assert (last["type"], last["index"], last["label"], last["round"], last["annotator"]) == (
        "undo",
        10,
        1,
        4,
        "bob",
    )
    assert LabelStore(path, NAMES).labels == {}
    assert LabelStore(path, NAMES, session=store.session).undo() is None


def test_undo_record_not_matching_the_stack_is_refused_on_replay(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    store = LabelStore(path, NAMES)
    store.label(1, 1)
    with path.open("a") as f:
        bad = {"type": "undo", "index": 2, "label": 1, "round": 0, "annotator": "h", "time": "t"}
        bad["session"] = store.session
        f.write(json.dumps(bad))
        f.write("\n")
    with pytest.raises(ValueError, match=r"line 3 .*the action to undo is label of index 1"):
        LabelStore(path, NAMES)


def test_random_action_sequences_match_a_reference_replay(tmp_path: Path) -> None:
    rng = random.Random(0)
    path = tmp_path / "labels.jsonl"
    store = LabelStore(path, NAMES)
    for _ in range(150):
        i = rng.randrange(8)
        op = rng.choice(["label", "label", "skip", "unlabel", "undo"])
        labels, skipped = store.labels, store.skipped
        if op == "label":
            store.label(i, rng.randrange(3), round=rng.randrange(3))
        elif op == "skip" and i not in skipped:
            store.skip(i)
        elif op == "unlabel" and (i in labels or i in skipped):
            store.unlabel(i)
        elif op == "undo":
            store.undo()
        expected_labels, expected_skipped = _reference_state(list(store.actions))
        assert store.labels == expected_labels and store.skipped == expected_skipped
    assert LabelStore(path, NAMES).state() == store.state()


def test_two_stores_on_one_file_see_each_other(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    first = LabelStore(path, NAMES)
    second = LabelStore(path, NAMES)  # e.g. a notebook cell run twice
    first.label(1, 0)
    second.label(2, 1)
    assert first.labels == second.labels == {1: 0, 2: 1}
    assert second.undo().index == 2
    assert first.undo().index == 1  # the undo stack is the file's, whoever wrote
    assert first.labels == second.labels == {}
    assert LabelStore(path, NAMES).state() == first.state() == second.state()


def test_deleted_file_is_reported_not_recreated_silently(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    store = LabelStore(path, NAMES)
    store.label([1, 2], [0, 0])
    path.unlink()
    with pytest.raises(RuntimeError, match=r"was deleted.*2 labels\) are still in memory"):
        store.label(3, 1)
    assert not path.exists()  # the store did not silently start a new, nearly empty file
    with pytest.raises(RuntimeError, match="was deleted"):
        _ = store.labels


def test_replaced_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    store = LabelStore(path, NAMES)
    store.label(1, 0)
    other = tmp_path / "other.jsonl"
    LabelStore(other, NAMES)
    os.replace(other, path)
    with pytest.raises(RuntimeError, match=r"was replaced or truncated.*1 actions \(1 labels\)"):
        store.skip(2)


def test_in_memory_store_touches_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = LabelStore(None, NAMES)
    other = LabelStore.in_memory(NAMES)
    store.label([1, 2], [2, 0])
    store.skip(3)
    other.label([1, 2], [2, 0])
    assert store.path is None and store.labels == {1: 2, 2: 0} and store.skipped == {3}
    assert other.labels == store.labels
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------------------------- export
def _filled_store(path: Path | None) -> LabelStore:
    store = LabelStore(path, NAMES, dataset_fingerprint="fp")
    store.label([6, 1], [2, 0], round=0, annotator="oracle")
    store.label([3], [1], round=1)
    store.skip(4, round=1)
    return store


def test_records_csv_and_json_round_trip(tmp_path: Path) -> None:
    store = _filled_store(tmp_path / "labels.jsonl")
    records = store.to_records()
    assert [(r["index"], r["label"], r["label_name"], r["round"], r["annotator"]) for r in records] == [
        (1, 0, "cat", 0, "oracle"),
        (3, 1, "dog", 1, "human"),
        (6, 2, "bird", 0, "oracle"),
    ]
    with store.to_csv(tmp_path / "labels.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows == [{k: str(v) for k, v in r.items()} for r in records]

    payload = json.loads(store.to_json(tmp_path / "labels.json").read_text())
    assert payload == {"class_names": NAMES, "dataset": "fp", "labels": records, "skipped": [4]}


def test_to_dataset_without_source() -> None:
    from datasets import ClassLabel

    out = _filled_store(None).to_dataset()
    assert out.column_names == ["index", "label", "round", "annotator", "time"]
    assert isinstance(out.features["label"], ClassLabel) and out.features["label"].names == NAMES
    assert out["index"] == [1, 3, 6] and out["label"] == [0, 1, 2] and out["round"] == [0, 1, 0]


def test_to_dataset_with_source_images() -> None:
    from datasets import ClassLabel, Dataset, Features, Image
    from PIL import Image as PILImage

    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(8, 5, 5, 3), dtype=np.uint8)
    source = Dataset.from_dict(
        {"image": [PILImage.fromarray(p) for p in pixels], "label": [0, 1, 2, 0, 1, 2, 0, 1]},
        features=Features({"image": Image(), "label": ClassLabel(names=NAMES)}),
    )
    out = _filled_store(None).to_dataset(source)
    assert out.column_names == ["index", "label", "round", "annotator", "time", "image"]
    for row in out:
        np.testing.assert_array_equal(np.asarray(row["image"]), pixels[row["index"]])
    assert out["label"] == [0, 1, 2]  # the store's labels, not the source's ground truth

    with pytest.raises(ValueError, match="clash with the export's own columns"):
        _filled_store(None).to_dataset(source, columns=["label"])
    with pytest.raises(ValueError, match=r"columns \['pixels'\] are not in the dataset"):
        _filled_store(None).to_dataset(source, columns=["pixels"])
    with pytest.raises(ValueError, match="labels index 6, but the dataset has 4 rows"):
        _filled_store(None).to_dataset(source.select(range(4)))


def test_dataset_fingerprint() -> None:
    from datasets import Dataset

    a = Dataset.from_dict({"x": [1, 2, 3]})
    same = Dataset.from_dict({"x": [1, 2, 3]})
    other = Dataset.from_dict({"x": [1, 2, 4]})
    assert dataset_fingerprint(a) == dataset_fingerprint(same) == f"datasets:{a._fingerprint};len=3"
    assert dataset_fingerprint(a) != dataset_fingerprint(other)
    assert dataset_fingerprint(a.select([0, 1])) != dataset_fingerprint(a)

    plain = list(range(4))
    assert dataset_fingerprint(plain) == "len=4"
    assert dataset_fingerprint(plain, ["a", "b"]) != dataset_fingerprint(plain, ["a", "c"])
    assert dataset_fingerprint(plain, ["a", "b"]) == dataset_fingerprint(list("wxyz"), ["a", "b"])
    with pytest.raises(ValueError, match="dataset must have a length"):
        dataset_fingerprint(object())
