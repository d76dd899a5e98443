"""Pool: a view of a LabelStore over dataset-wide indices; validation before any write; restore from file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from alnb.pool import Pool
from alnb.store import LabelStore

NAMES = ["cat", "dog", "bird"]


def _assert_int64(array: np.ndarray, expected: list[int]) -> None:
    assert array.dtype == np.int64
    np.testing.assert_array_equal(array, np.array(expected, dtype=np.int64))


def test_default_pool_is_every_row() -> None:
    pool = Pool(range(6), NAMES)
    _assert_int64(pool.indices, [0, 1, 2, 3, 4, 5])
    _assert_int64(pool.unlabeled, [0, 1, 2, 3, 4, 5])
    _assert_int64(pool.labeled, [])
    _assert_int64(pool.labels, [])
    assert len(pool) == 6 and pool.num_classes == 3 and pool.class_names == tuple(NAMES) and pool.round == 0


def test_label_skip_unlabel_update_the_views() -> None:
    pool = Pool(range(10), NAMES)
    pool.label([7, 2, 5], ["bird", 0, np.int64(1)])  # names and ids mix
    pool.skip(4)
    _assert_int64(pool.labeled, [2, 5, 7])
    _assert_int64(pool.labels, [0, 1, 2])  # aligned with labeled
    _assert_int64(pool.skipped, [4])
    _assert_int64(pool.unlabeled, [0, 1, 3, 6, 8, 9])
    assert (pool.label_of(7), pool.label_of(4), pool.label_of(0)) == (2, None, None)

    pool.label(5, "cat")  # relabel: a new action, not an edit
    assert pool.label_of(5) == 0 and len(pool.store.actions) == 5
    pool.unlabel(7)
    pool.unlabel(4)  # a skipped item goes back to the unlabeled items
    _assert_int64(pool.labeled, [2, 5])
    _assert_int64(pool.skipped, [])
    _assert_int64(pool.unlabeled, [0, 1, 3, 4, 6, 7, 8, 9])


def test_undo_returns_what_it_reverted() -> None:
    pool = Pool(range(5), NAMES)
    assert pool.undo() is None
    pool.label([1, 3], [2, 2])
    pool.skip(1)
    undone = pool.undo()
    assert (undone.type, undone.index) == ("skip", 1)
    assert pool.label_of(1) == 2
    assert pool.undo().index == 3
    _assert_int64(pool.labeled, [1])


def test_indices_restrict_the_pool_and_stay_dataset_wide() -> None:
    pool = Pool(range(100), NAMES, indices=[90, 10, 50, 30])
    _assert_int64(pool.indices, [10, 30, 50, 90])
    pool.label([90, 30], [1, 1])
    _assert_int64(pool.labeled, [30, 90])
    _assert_int64(pool.unlabeled, [10, 50])
    assert 50 in pool and 51 not in pool
    with pytest.raises(ValueError, match=r"indices contains \[11\], which are not in the pool"):
        pool.label([10, 11], [0, 0])
    assert pool.label_of(10) is None  # the valid item of the refused call was not written either


@pytest.mark.parametrize(
    ("indices", "message"),
    [
        ([1, 2, 2, 5, 5], r"indices must be unique, got repeats \[2, 5\]"),
        ([0, 10], r"indices contains \[10\], expected dataset indices in \[0, 10\)"),
        ([-1, 3], r"indices contains \[-1\]"),
        ([1.5, 2.0], "indices must be a 1-D sequence of integers"),
        ([[1, 2]], "indices must be a 1-D sequence of integers"),
    ],
)
def test_bad_pool_indices_are_refused(indices: list, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Pool(range(10), NAMES, indices=indices)


def test_bad_labels_write_nothing(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    pool = Pool(range(10), NAMES, store=LabelStore(path, NAMES))
    pool.label([1, 2], [0, 1])
    before = path.read_bytes()
    bad_calls = [
        (lambda: pool.label([3, 4], [0, "fish"]), r"labels contains 'fish', expected one of \['cat', 'dog'"),
        (lambda: pool.label([3, 4], [0, 3]), r"labels contains 3, expected class ids in \[0, 3\)"),
        (lambda: pool.label([3, 4], [0, -1]), r"labels contains -1"),
        (lambda: pool.label([3, 4], [0]), "labels has 1 items but indices has 2"),
        (lambda: pool.label([3, 4], [0, 1.0]), "labels contains 1.0, expected a class id"),
        (lambda: pool.label([3, 4], [True, 0]), "labels contains True"),
        (lambda: pool.label([3, 4], [[0, 1]]), "1-D sequence of labels"),
        (lambda: pool.label([3, 10], [0, 0]), r"indices contains \[10\], which are not in the pool"),
        (lambda: pool.label([3, 3], [0, 0]), r"duplicates \[3\]"),
        (lambda: pool.label([3], [0], annotator=""), "annotator must be a non-empty string"),
        (lambda: pool.skip(12), r"index contains \[12\]"),
        (lambda: pool.unlabel(5), "index 5 is neither labeled nor skipped"),
        (lambda: pool.label_of(10), r"index contains \[10\]"),
    ]
    for call, message in bad_calls:
        with pytest.raises(ValueError, match=message):
            call()
        assert path.read_bytes() == before
    _assert_int64(pool.labeled, [1, 2])


def test_every_action_reaches_the_file_at_once_with_round_and_annotator(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    pool = Pool(range(10), NAMES, store=LabelStore(path, NAMES))
    pool.label(3, "dog", annotator="oracle")
    assert pool.next_round() == 1
    pool.skip(4)
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(r["type"], r["index"], r["label"], r["round"], r["annotator"]) for r in records[1:]] == [
        ("label", 3, 1, 0, "oracle"),
        ("skip", 4, None, 1, "human"),
    ]


def test_pool_on_an_existing_store_restores_state_and_round(tmp_path: Path) -> None:
    path = tmp_path / "labels.jsonl"
    pool = Pool(range(20), NAMES, store=LabelStore(path, NAMES))
    pool.label([3, 9], [0, 2])
    pool.next_round()
    pool.next_round()
    pool.label([12, 1], ["dog", "dog"])
    pool.skip(5)

    # e.g. after a kernel restart; resuming the store's session lets undo reach its earlier actions
    restored = Pool(range(20), NAMES, store=LabelStore(path, NAMES, session=pool.store.session))
    for name in ("labeled", "labels", "skipped", "unlabeled"):
        np.testing.assert_array_equal(getattr(restored, name), getattr(pool, name))
    assert restored.round == 2
    assert restored.store.labels_in_round(2) == {1: 1, 12: 1}
    assert restored.undo().index == 5  # undo works after restoring
    _assert_int64(restored.skipped, [])


def test_pool_is_a_view_of_its_store() -> None:
    store = LabelStore.in_memory(NAMES)
    pool = Pool(range(8), NAMES, store=store)
    _ = pool.unlabeled  # fill the cache
    store.label([6, 0], [1, 1])
    _assert_int64(pool.labeled, [0, 6])
    _assert_int64(pool.unlabeled, [1, 2, 3, 4, 5, 7])
    pool.labeled[0] = 99  # arrays handed out are copies
    _assert_int64(pool.labeled, [0, 6])


def test_class_counts_and_repr() -> None:
    pool = Pool(range(12), NAMES)
    pool.label([0, 1, 2, 3, 4], [2, 2, 0, 2, 0])
    pool.skip(5)
    _assert_int64(pool.class_counts(), [2, 0, 3])
    assert repr(pool) == (
        "Pool(size=12, labeled=5, unlabeled=6, skipped=1, classes=3, round=0, "
        "counts={'cat': 2, 'dog': 0, 'bird': 3})"
    )


def test_class_names_are_checked() -> None:
    with pytest.raises(ValueError, match=r"duplicates \['dog'\]"):
        Pool(range(3), ["dog", "cat", "dog"])
    with pytest.raises(ValueError, match=r"store has class_names \['cat', 'dog', 'bird'\].*\['cat', 'dog'\]"):
        Pool(range(3), ["cat", "dog"], store=LabelStore.in_memory(NAMES))
    with pytest.raises(ValueError, match="dataset must have a length"):
        Pool(5, NAMES)


def test_store_with_labels_outside_the_pool_is_refused() -> None:
    store = LabelStore.in_memory(NAMES)
    store.label([2, 40], [0, 1])
    with pytest.raises(ValueError, match=r"indices \[40\] \(of 1\) that are not in this pool"):
        Pool(range(30), NAMES, store=store)
    assert len(Pool(range(50), NAMES, store=store).labeled) == 2


def test_from_file_ties_the_store_to_the_dataset(tmp_path: Path) -> None:
    from datasets import Dataset

    digits = Dataset.from_dict({"x": list(range(10))})
    glyphs = Dataset.from_dict({"x": list(range(10, 20))})
    path = tmp_path / "labels.jsonl"
    Pool.from_file(path, digits, NAMES).label(4, "bird")
    assert Pool.from_file(path, digits, NAMES).label_of(4) == 2
    with pytest.raises(ValueError, match="was written for the dataset with fingerprint"):
        Pool.from_file(path, glyphs, NAMES)
