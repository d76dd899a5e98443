"""The feature cache on disk (memory-mapped, checksummed, shared between instances), its use by the Trainer and the
learner (a resumed session encodes nothing again), and DataLoader worker processes giving the same numbers."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import COLOR_NAMES
from datasets import Dataset

import alnb.training.cache as cache_module
from alnb.learner import ActiveLearner, DatasetOracle
from alnb.models import load_classifier
from alnb.pool import Pool
from alnb.store import LabelStore
from alnb.training import FeatureCache, FeatureCacheWarning, Trainer, TrainerConfig

NAMES = list(COLOR_NAMES)
KEY = ("model-fp", "data-fp")


def _rows(n: int, d: int = 8, offset: int = 0) -> torch.Tensor:
    return torch.arange(offset * d, (offset + n) * d, dtype=torch.float32).reshape(n, d) / 7


def _folder(root: Path) -> Path:
    (folder,) = [p for p in root.iterdir() if p.is_dir()]
    return folder


def _data_file(root: Path, kind: str) -> Path:
    (path,) = _folder(root).glob(f"{kind}-*")
    return path


def _quiet_missing(cache: FeatureCache, indices: object) -> tuple[np.ndarray, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        missing = cache.missing(KEY, indices)
    return missing, [str(w.message) for w in caught if issubclass(w.category, FeatureCacheWarning)]


# ---------------------------------------------------------------------------------------------- on disk


def test_rows_survive_a_new_instance_and_full_reads_are_views(tmp_path: Path) -> None:
    cache = FeatureCache(tmp_path)
    cache.add(KEY, np.arange(10, 20), _rows(10))
    cache.add(KEY, [3, 1], _rows(2, offset=10))
    reopened = FeatureCache(tmp_path)
    assert reopened.missing(KEY, [1, 2, 3, 15]).tolist() == [2]
    assert len(reopened) == 12 and reopened.nbytes == 12 * 8 * 4
    torch.testing.assert_close(
        reopened.get(KEY, [3, 1, 12]), torch.cat([_rows(2, offset=10), _rows(1, offset=2)])
    )
    # Rows stored in this order come back as views of the mapped file, not copies.
    first, again = reopened.get(KEY, np.arange(10, 20)), reopened.get(KEY, np.arange(10, 20))
    torch.testing.assert_close(first, _rows(10))
    assert first.data_ptr() == again.data_ptr()
    first[0, 0] = 123.0  # a copy-on-write map: the file keeps its value
    assert FeatureCache(tmp_path).get(KEY, [10])[0, 0].item() == 0.0
    with pytest.raises(KeyError, match=r"\[2\]"):
        reopened.get(KEY, [2, 3])


def test_appends_write_only_the_new_rows(tmp_path: Path) -> None:
    cache = FeatureCache(tmp_path)
    cache.add(KEY, np.arange(100), _rows(100))
    features = _data_file(tmp_path, "features")
    before = features.read_bytes()
    cache.add(KEY, [100, 101], _rows(2, offset=100))
    after = features.read_bytes()
    assert len(after) == len(before) + 2 * 8 * 4 and after[: len(before)] == before
    cache.add(KEY, [5], _rows(1, offset=500))  # overwriting a cached index appends too
    assert (
        FeatureCache(tmp_path).get(KEY, [5, 100]).tolist()
        == torch.cat([_rows(1, offset=500), _rows(1, offset=100)]).tolist()
    )
    with pytest.raises(ValueError, match="features must have 8 columns"):
        cache.add(KEY, [200], torch.zeros(1, 3))
    with pytest.raises(ValueError, match=r"features must be shaped \[2, d\]"):
        cache.add(KEY, [200, 201], torch.zeros(3, 8))


def test_a_torn_append_keeps_the_committed_rows(tmp_path: Path) -> None:
    FeatureCache(tmp_path).add(KEY, [0, 1, 2], _rows(3))
    # A process killed after writing row bytes but before the manifest: the bytes lie past the committed end.
    with open(_data_file(tmp_path, "features"), "ab") as handle:
        handle.write(b"\xff" * 40)
    cache = FeatureCache(tmp_path)
    missing, messages = _quiet_missing(cache, [0, 1, 2, 3])
    assert missing.tolist() == [3] and messages == []
    cache.add(KEY, [3], _rows(1, offset=3))  # written over the torn bytes
    torch.testing.assert_close(FeatureCache(tmp_path).get(KEY, [0, 1, 2, 3]), _rows(4))


@pytest.mark.parametrize(
    "damage", ["flip a feature byte", "truncate features", "garbage manifest", "flip an index"]
)
def test_damaged_files_are_detected_and_rebuilt(tmp_path: Path, damage: str) -> None:
    FeatureCache(tmp_path).add(KEY, [4, 5, 6], _rows(3))
    if damage == "flip a feature byte":
        path = _data_file(tmp_path, "features")
        data = bytearray(path.read_bytes())
        data[20] ^= 0x10
        path.write_bytes(bytes(data))
    elif damage == "truncate features":
        path = _data_file(tmp_path, "features")
        path.write_bytes(path.read_bytes()[:50])
    elif damage == "garbage manifest":
        (_folder(tmp_path) / "manifest.json").write_text('{"format": 1, "rows": ')
    else:
        path = _data_file(tmp_path, "indices")
        data = bytearray(path.read_bytes())
        data[8] ^= 0x01
        path.write_bytes(bytes(data))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cache = FeatureCache(tmp_path)
        missing = cache.missing(KEY, [4, 5, 6])
    messages = [str(w.message) for w in caught if issubclass(w.category, FeatureCacheWarning)]
    assert missing.tolist() == [4, 5, 6]  # never trusted
    assert len(messages) == 1 and "is damaged" in messages[0] and "encoded again" in messages[0]
    with pytest.raises(KeyError):
        cache.get(KEY, [4])
    cache.add(KEY, [4, 5, 6], _rows(3, offset=9))
    with warnings.catch_warnings():
        warnings.simplefilter("error", FeatureCacheWarning)  # rebuilt: clean from now on
        torch.testing.assert_close(FeatureCache(tmp_path).get(KEY, [4, 5, 6]), _rows(3, offset=9))


def test_a_damaged_chunk_drops_only_its_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache_module, "_CHUNK_BYTES", 4 * 8 * 4)  # chunks of 4 rows of 8 floats
    FeatureCache(tmp_path).add(KEY, np.arange(10), _rows(10))
    manifest = json.loads((_folder(tmp_path) / "manifest.json").read_text())
    assert [c[:2] for c in manifest["chunks"]] == [[0, 4], [4, 4], [8, 2]]
    path = _data_file(tmp_path, "features")
    data = bytearray(path.read_bytes())
    data[5 * 8 * 4 + 3] ^= 0x40  # a byte of row 5, in the second chunk
    path.write_bytes(bytes(data))
    cache = FeatureCache(tmp_path)
    torch.testing.assert_close(cache.get(KEY, [0, 9]), _rows(10)[[0, 9]])  # other chunks stay readable
    missing, messages = _quiet_missing(cache, np.arange(10))
    assert missing.tolist() == [4, 5, 6, 7] and len(messages) == 1 and "rows 4..7" in messages[0]


def test_instances_on_one_folder_see_each_others_rows(tmp_path: Path) -> None:
    first, second = FeatureCache(tmp_path), FeatureCache(tmp_path)
    first.add(KEY, [0, 1], _rows(2))
    assert second.missing(KEY, [0, 1, 2]).tolist() == [2]
    second.add(KEY, [2], _rows(1, offset=2))  # appended after the first instance's rows, not over them
    first.add(KEY, [3], _rows(1, offset=3))
    torch.testing.assert_close(FeatureCache(tmp_path).get(KEY, [0, 1, 2, 3]), _rows(4))
    torch.testing.assert_close(second.get(KEY, [3, 0]), _rows(4)[[3, 0]])


def test_volatile_keys_stay_in_memory_and_persist_writes_the_rest(tmp_path: Path) -> None:
    memory = FeatureCache()
    volatile = ("model-fp", "object-1234-10")  # a fingerprint only valid in this process
    memory.add(KEY, np.arange(9000), _rows(9000, d=4))  # more than one in-memory block
    memory.add(KEY, [9000], _rows(1, d=4, offset=9000))
    memory.add(volatile, [0], _rows(1))
    assert not memory.is_persistent(KEY) and memory.directory is None
    torch.testing.assert_close(memory.get(KEY, [8999, 9000, 3]), _rows(9001, d=4)[[8999, 9000, 3]])
    torch.testing.assert_close(
        memory.get(KEY, np.arange(8990, 9001)), _rows(9001, d=4)[8990:]
    )  # across blocks
    memory.persist(tmp_path / "features")
    assert memory.is_persistent(KEY) and not memory.is_persistent(volatile)
    assert len(list((tmp_path / "features").iterdir())) == 1  # the volatile key wrote nothing
    torch.testing.assert_close(
        FeatureCache(tmp_path / "features").get(KEY, np.arange(9001)), _rows(9001, d=4)
    )
    torch.testing.assert_close(memory.get(volatile, [0]), _rows(1))
    memory.add(KEY, [9001], _rows(1, d=4, offset=9001))  # later rows go straight to disk
    assert FeatureCache(tmp_path / "features").missing(KEY, [9001]).tolist() == []
    memory.clear()
    assert len(memory) == 0 and FeatureCache(tmp_path / "features").missing(KEY, [0]).tolist() == [0]
    with pytest.raises(ValueError, match="directory must be a path or None"):
        FeatureCache(3)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------- trainer and learner


class _VisionCalls:
    def __init__(self, classifier: torch.nn.Module) -> None:
        self.images = 0
        classifier.backbone.vision_model.embeddings.register_forward_hook(self._hook)  # type: ignore[union-attr]

    def _hook(self, module: torch.nn.Module, args: tuple, output: object) -> None:
        self.images += int(args[0].shape[0])


def _trainer(**overrides: object) -> Trainer:
    base = {
        "epochs": 2,
        "batch_size": 8,
        "lr": 0.01,
        "warmup_epochs": 0,
        "quiet": True,
        "eval_batch_size": 16,
    }
    base.update(overrides)
    return Trainer(TrainerConfig(**base))  # type: ignore[arg-type]


def test_a_resumed_session_does_not_encode_the_pool_again(
    clip_dir: str, color_dataset: Dataset, tmp_path: Path
) -> None:
    classifier = load_classifier(clip_dir, NAMES, adapter="coop", n_ctx=4)
    pool = Pool(color_dataset, NAMES, store=LabelStore(tmp_path / "labels.jsonl", NAMES))
    learner = ActiveLearner(classifier, pool, _trainer(), "entropy", seed=0)
    calls = _VisionCalls(classifier)
    query = learner.query()
    learner.teach(query.indices, DatasetOracle(color_dataset)(query.indices))
    learner.fit().end_round()
    pending = learner.query()
    assert calls.images == len(color_dataset)  # the pool once
    learner.save(tmp_path / "session")
    assert (tmp_path / "session" / "features").is_dir()
    shutil.move(tmp_path / "session", tmp_path / "moved")  # the features travel with the session folder

    resumed = ActiveLearner.load(tmp_path / "moved", color_dataset)
    resumed_calls = _VisionCalls(resumed.classifier)
    assert resumed.trainer.feature_cache.directory == tmp_path / "moved" / "features"
    assert np.array_equal(resumed.query().indices, pending.indices)
    assert resumed_calls.images == 0  # read from the session folder, not encoded again


def test_trainer_keys_and_arguments(clip_dir: str, color_dataset: Dataset, tmp_path: Path) -> None:
    classifier = load_classifier(clip_dir, NAMES, adapter="zeroshot")
    trainer = Trainer(TrainerConfig(quiet=True), feature_cache=FeatureCache(tmp_path))
    expected = trainer.predict(classifier, color_dataset, range(20))
    other = _trainer(image_column="image")
    other.feature_cache = FeatureCache(tmp_path)
    calls = _VisionCalls(classifier)
    torch.testing.assert_close(other.predict(classifier, color_dataset, range(20)).logits, expected.logits)
    assert calls.images == 0
    with pytest.raises(ValueError, match="feature_cache must be a FeatureCache or None"):
        Trainer(feature_cache={})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="num_workers must be a non-negative integer, got -1"):
        Trainer(TrainerConfig(num_workers=-1))
    with pytest.raises(ValueError, match="pin_memory must be True or False, got 'yes'"):
        Trainer(TrainerConfig(pin_memory="yes"))  # type: ignore[arg-type]


@pytest.mark.slow
def test_worker_processes_give_the_same_features_and_fit(
    clip_dir: str, vit_dir: str, color_dataset: Dataset
) -> None:
    clip = load_classifier(clip_dir, NAMES, adapter="zeroshot")
    indices = np.random.default_rng(0).permutation(64)[:40]
    plain = _trainer(feature_cache=False).predict(clip, color_dataset, indices)
    workers = _trainer(feature_cache=False, num_workers=2).predict(clip, color_dataset, indices)
    assert torch.equal(plain.logits, workers.logits) and torch.equal(plain.embeddings, workers.embeddings)
    cached = _trainer(num_workers=2)
    cached.predict(clip, color_dataset, indices)  # encodes through the workers into the cache
    (key,) = cached.feature_cache._entries
    reference = _trainer()
    reference.predict(clip, color_dataset, indices)
    assert torch.equal(cached.feature_cache.get(key, indices), reference.feature_cache.get(key, indices))
    # A round that trains the image tower (VPT) with augmentation: the same weights with 0 or 2 workers.
    labels = np.asarray(color_dataset["label"])[:16]

    def trained(num_workers: int) -> dict[str, torch.Tensor]:
        clf = load_classifier(vit_dir, NAMES, adapter="vpt", n_prompts=2)
        _trainer(augment=True, num_workers=num_workers).fit(clf, color_dataset, np.arange(16), labels)
        return {n: p.detach().clone() for n, p in clf.named_parameters() if p.requires_grad}

    zero, two = trained(0), trained(2)
    assert zero.keys() == two.keys() and all(torch.equal(zero[n], two[n]) for n in zero)


def test_persist_into_another_folder_copies_the_rows(tmp_path: Path) -> None:
    cache = FeatureCache(tmp_path / "a")
    cache.add(KEY, np.arange(6), _rows(6))
    cache.persist(tmp_path / "a")  # already there: nothing happens
    assert len(list((tmp_path / "a").iterdir())) == 1
    cache.persist(tmp_path / "b")  # a session saved to a new folder takes its features along
    assert cache.directory == tmp_path / "b"
    torch.testing.assert_close(FeatureCache(tmp_path / "b").get(KEY, np.arange(6)), _rows(6))
    torch.testing.assert_close(FeatureCache(tmp_path / "a").get(KEY, np.arange(6)), _rows(6))
