"""The backend contract (one test body over every backend), the undo preview and ``LabelStore.copy_to``."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest

from alnb.store import (
    Action,
    Header,
    JsonlFileBackend,
    LabelLog,
    LabelStore,
    MemoryBackend,
    StoreBackend,
)
from alnb.store.sql import SqlBackend

NAMES = ["cat", "dog", "bird"]

# A factory takes a folder and returns an opener: each call gives a backend on the *same* storage, the way
# a second LabelStore on one file gets a second JsonlFileBackend of that file.
Opener = Callable[[], StoreBackend]


def _jsonl(folder: Path) -> Opener:
    path = folder / "labels.jsonl"
    return lambda: JsonlFileBackend(path)


def _memory(folder: Path) -> Opener:
    backend = MemoryBackend()
    return lambda: backend


def _sqlite(folder: Path) -> Opener:
    url = f"sqlite:///{folder / 'labels.db'}"
    return lambda: SqlBackend(url)


BACKENDS = [
    pytest.param(_jsonl, id="jsonl"),
    pytest.param(_memory, id="memory"),
    pytest.param(_sqlite, id="sqlite"),
]


def _action(kind: str, index: int, label: int | None = None, round: int = 0) -> Action:
    return Action(kind, index, label, round, "human", "2024-01-01T00:00:00.000+00:00")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------- contract
@pytest.mark.parametrize("factory", BACKENDS)
def test_backend_contract_round_trip(factory: Callable[[Path], Opener], tmp_path: Path) -> None:
    opener = factory(tmp_path)
    store = LabelStore(opener(), NAMES, dataset_fingerprint="fp-1")
    assert store.state() == LabelStore.in_memory(NAMES).state()  # a new storage starts empty
    store.label([0, 1, 2], [0, 1, 2], round=0)
    store.skip(5, round=1)
    store.label(1, 0, round=1)  # relabel
    store.unlabel(2, round=1)
    store.undo(round=1)  # 2 is labeled 2 again

    reopened = LabelStore(opener(), NAMES)  # no fingerprint given: the stored one is in force
    assert reopened.state() == store.state()
    assert reopened.labels == {0: 0, 1: 0, 2: 2} and reopened.skipped == frozenset({5})
    assert reopened.dataset_fingerprint == "fp-1"
    assert reopened.undo_target() is None  # a new session: nothing of its own to undo
    resumed = LabelStore(opener(), NAMES, session=store.session)
    assert resumed.undo_target() == store.undo_target() == store.actions[4]  # the relabel of 1
    assert reopened.path == reopened.backend.path
    with pytest.raises(ValueError, match="was written for class_names"):
        LabelStore(opener(), ["cat", "bird", "dog"])
    with pytest.raises(ValueError, match="another dataset"):
        LabelStore(opener(), NAMES, dataset_fingerprint="fp-2")


@pytest.mark.parametrize("factory", BACKENDS)
def test_backend_contract_two_stores_share_records_and_undo(
    factory: Callable[[Path], Opener], tmp_path: Path
) -> None:
    opener = factory(tmp_path)
    first, second = LabelStore(opener(), NAMES), LabelStore(opener(), NAMES)
    assert first.session != second.session
    first.label(1, 0)
    second.label(2, 1)
    assert first.labels == second.labels == {1: 0, 2: 1}
    assert first.undo_target() == first.actions[0] and second.undo_target() == second.actions[1]
    assert first.undo().index == 1  # each store undoes its own actions, never the other's
    assert first.undo() is None and len(second.actions) == 3  # nothing of its own left: nothing written
    assert second.labels == {2: 1} and second.undo().index == 2
    assert first.state() == second.state() == LabelStore(opener(), NAMES).state()


@pytest.mark.parametrize("factory", BACKENDS)
def test_backend_contract_refused_changes_store_nothing(
    factory: Callable[[Path], Opener], tmp_path: Path
) -> None:
    opener = factory(tmp_path)
    store = LabelStore(opener(), NAMES)
    store.skip(3)
    with pytest.raises(ValueError, match="already skipped"):
        store.skip(3)
    with pytest.raises(ValueError, match="nothing to unlabel"):
        store.unlabel(4)
    with pytest.raises(ValueError, match="expected class ids"):
        store.label([6, 7], [1, 9])  # a batch is validated whole before anything is written
    assert len(LabelStore(opener(), NAMES).actions) == 1


@pytest.mark.parametrize("factory", BACKENDS)
def test_backend_contract_direct_interface(factory: Callable[[Path], Opener], tmp_path: Path) -> None:
    opener = factory(tmp_path)
    header = Header(tuple(NAMES), None, "2024-01-01T00:00:00.000+00:00")
    backend, log = opener(), LabelLog(len(NAMES))
    assert backend.open(header, log) == header and len(log) == 0
    with pytest.raises(RuntimeError, match="only allowed inside exclusive"):
        backend.write([_action("label", 1, 2)])
    batch = [_action("label", 1, 2), _action("skip", 4)]
    with backend.exclusive(log):
        log.validate(batch)
        backend.write(batch)
        backend.write([])  # an empty batch is a no-op
    for a in batch:
        log.apply(a)

    other, other_log = opener(), LabelLog(len(NAMES))
    assert other.open(header, other_log) == header
    assert other_log.actions == tuple(batch)
    with other.exclusive(other_log):
        other.write([_action("undo", 4)])
    other_log.apply(_action("undo", 4))
    backend.refresh(log)  # the first sees what the second wrote
    assert log.state() == other_log.state()
    assert log.labels == {1: 2} and log.skipped == frozenset()


def test_backends_describe_their_storage(tmp_path: Path) -> None:
    assert repr(LabelStore.in_memory(NAMES)).startswith("LabelStore(in memory, ")
    path = tmp_path / "labels.jsonl"
    assert repr(LabelStore(JsonlFileBackend(path), NAMES)).startswith(f"LabelStore({str(path)!r}, ")
    assert repr(MemoryBackend()) == "MemoryBackend(in memory)"
    assert LabelStore(path, NAMES).backend.path == path and LabelStore(None, NAMES).backend.path is None


def test_a_file_backend_serves_one_store(tmp_path: Path) -> None:
    backend = JsonlFileBackend(tmp_path / "labels.jsonl")
    LabelStore(backend, NAMES)
    with pytest.raises(RuntimeError, match="already serves a store"):
        LabelStore(backend, NAMES)


# ---------------------------------------------------------------------------------------------- undo preview
def test_undo_target_names_what_undo_reverts(tmp_path: Path) -> None:
    store = LabelStore(tmp_path / "labels.jsonl", NAMES)
    assert store.undo_target() is None and not store.can_undo
    store.label([1, 2], [0, 1], round=0)
    store.skip(1, round=1)
    assert store.undo_target() == store.actions[-1] and store.undo_target().type == "skip"
    before = store.path.read_bytes()
    assert store.undo_target() is not None
    assert store.path.read_bytes() == before  # a preview writes nothing
    assert store.undo(round=1) == store.actions[2]  # the skip
    assert store.undo_target().index == 2
    store.undo()
    assert store.undo_target().index == 1
    store.undo()
    assert store.undo_target() is None and store.undo() is None


@pytest.mark.parametrize("seed", range(5))
def test_undo_target_agrees_with_undo_over_random_histories(seed: int) -> None:
    rng = random.Random(seed)
    store = LabelStore.in_memory(NAMES)
    for _ in range(60):
        i = rng.randrange(5)
        move = rng.choice(["label", "skip", "unlabel", "undo", "undo"])
        if move == "label":
            store.label(i, rng.randrange(3))
        elif move == "skip" and i not in store.skipped:
            store.skip(i)
        elif move == "unlabel" and (i in store.labels or i in store.skipped):
            store.unlabel(i)
        elif move == "undo":
            expected = store.undo_target()
            assert store.undo() == expected
            assert store.can_undo == (store.undo_target() is not None)


def test_undo_target_ignores_another_writer(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    first, second = LabelStore(path, NAMES), LabelStore(path, NAMES)
    first.label(1, 0)
    assert second.undo_target() is None and not second.can_undo
    second.label(2, 2)
    assert first.undo_target().index == 1 and second.undo_target().index == 2


# ---------------------------------------------------------------------------------------------- copy_to
def test_copy_to_writes_every_action_as_it_is(tmp_path: Path) -> None:
    store = LabelStore.in_memory(NAMES, dataset_fingerprint="fp")
    store.label([3, 1], [2, 0], round=0, annotator="oracle")
    store.skip(3, round=1)
    store.undo(round=1)
    store.unlabel(1, round=2)
    path = tmp_path / "copy" / "labels.jsonl"
    path.parent.mkdir()
    assert store.copy_to(path) == path
    copy = LabelStore(path, NAMES, session=store.session)
    assert copy.state() == store.state()  # times and sessions included
    assert copy.dataset_fingerprint == "fp" and copy.undo_target() == store.undo_target()

    store.label(7, 1, round=3)
    store.copy_to(path)  # a second copy replaces the first whole
    assert LabelStore(path, NAMES).state() == store.state()
    assert [p.name for p in path.parent.iterdir()] == ["labels.jsonl"]


def test_copy_to_refuses_the_store_own_file(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    store = LabelStore(path, NAMES)
    store.label(1, 1)
    with pytest.raises(ValueError, match="own file"):
        store.copy_to(path)
    other = store.copy_to(tmp_path / "other.jsonl")
    assert LabelStore(other, NAMES).state() == store.state()
