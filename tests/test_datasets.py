"""Built-in data sets, image folders and saved hub data sets, all offline."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from datasets import ClassLabel, Dataset, Features, Image
from PIL import Image as PILImage

from alnb.datasets import available, class_names, from_hub, image_folder, load
from alnb.datasets.folder import UnreadableImagesWarning
from alnb.embedded.world import HELD_OUT_COLORS
from alnb.training import load_images


@pytest.fixture(scope="module")
def digits():
    return load("digits")


def test_digits_split_is_fixed_stratified_and_rgb(digits):
    train, val, test = digits["train"], digits["validation"], digits["test"]
    assert (len(train), len(val), len(test)) == (1077, 270, 450)
    assert class_names(train) == [
        "digit zero", "digit one", "digit two", "digit three", "digit four",
        "digit five", "digit six", "digit seven", "digit eight", "digit nine",
    ]  # fmt: skip
    train_share = np.bincount(train["label"], minlength=10) / np.bincount(
        np.concatenate([train["label"], val["label"], test["label"]]), minlength=10
    )
    assert np.allclose(train_share, 0.6, atol=0.02)
    image = train[0]["image"]
    assert image.mode == "RGB" and image.size == (32, 32)
    pixels = np.asarray(image)
    assert pixels[:4].max() == 0 and pixels[:, :4].max() == 0  # padded border is black
    again = load("digits")
    assert np.array_equal(np.asarray(again["train"][5]["image"]), np.asarray(digits["train"][5]["image"]))


def test_glyphs_is_twenty_classes_in_held_out_palettes():
    glyphs = load("glyphs")
    names = class_names(glyphs["train"])
    assert len(names) == 20 and len(glyphs["train"]) == 3000 and len(glyphs["test"]) == 1000
    assert len(glyphs["validation"]) == 600
    assert set(glyphs["train"]["label"]) == set(range(20))
    # The glyph ink colours come from the held-out palette: some pixel of each image is near one of them.
    palette = np.array(list(HELD_OUT_COLORS.values()), dtype=np.float32)
    image = np.asarray(glyphs["train"][0]["image"], dtype=np.float32).reshape(-1, 3)
    distance = np.abs(image[:, None, :] - palette[None]).max(-1).min()
    assert distance < 40


def test_unknown_builtin_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"name='mnist'.*'alphanumerics'.*'digits'"):
        load("mnist")
    assert {"digits", "glyphs", "alphanumerics", "glyphs-xl", "digits-lt10", "glyphs-lt100"} <= set(
        available()
    )
    with pytest.raises(ValueError, match="seed must be a non-negative integer, got '0'"):
        load("digits", seed="0")


def test_alphanumerics_has_46_balanced_classes_and_disjoint_splits():
    tasks = load("alphanumerics")
    names = class_names(tasks["train"])
    assert len(names) == 46 and names[10] == "letter a" and names[-1] == "arrow"
    assert np.bincount(tasks["train"]["label"]).tolist() == [60] * 46
    assert np.bincount(tasks["test"]["label"]).tolist() == [20] * 46
    first = {split: np.asarray(tasks[split][0]["image"]) for split in tasks}
    assert not np.array_equal(first["train"], first["test"])


@pytest.mark.parametrize(("name", "ratio"), [("digits-lt10", 10), ("digits-lt100", 100), ("glyphs-lt10", 10)])
def test_long_tailed_variants_have_the_stated_imbalance_and_balanced_test(name, ratio):
    base, tail = load(name.split("-")[0]), load(name)
    counts = np.bincount(tail["train"]["label"])
    assert counts.max() / counts.min() == pytest.approx(ratio, rel=0.15)
    assert counts.max() == np.bincount(base["train"]["label"]).min()
    assert tail["test"]["label"] == base["test"]["label"]
    assert tail["validation"]["label"] == base["validation"]["label"]
    assert load(name)["train"]["label"] == tail["train"]["label"]  # fixed for a seed


def test_long_tailed_refuses_a_ratio_below_one():
    with pytest.raises(ValueError, match=r"ratio=0\.5 must be an imbalance ratio"):
        from alnb.datasets.builtin import long_tailed

        long_tailed(load("digits")["train"], 0.5)


def test_larger_generated_pools_leave_validation_and_test_unchanged():
    from alnb.datasets.builtin import _glyphs

    small, large = _glyphs(0, pool=200), _glyphs(0, pool=400)
    assert len(large["train"]) == 400
    for split in ("validation", "test"):
        assert np.array_equal(np.asarray(small[split][3]["image"]), np.asarray(large[split][3]["image"]))
    assert np.array_equal(
        np.asarray(small["test"][0]["image"]), np.asarray(load("glyphs")["test"][0]["image"])
    )


def _write_folder(root: Path) -> None:
    (root / "cats").mkdir(parents=True)
    (root / "dogs").mkdir()
    PILImage.new("L", (10, 12), 128).save(root / "cats" / "gray.png")
    PILImage.new("RGBA", (8, 8), (255, 0, 0, 100)).save(root / "cats" / "rgba.png")
    PILImage.new("P", (9, 9), 3).save(root / "dogs" / "palette.gif")
    PILImage.new("RGB", (7, 7), (0, 255, 0)).save(root / "dogs" / "ok.jpg")
    PILImage.new("RGB", (5, 5)).save(root / "loose.png")
    (root / "dogs" / "empty.png").write_bytes(b"")
    (root / "dogs" / "notes.png").write_text("not an image")
    buffer = io.BytesIO()
    PILImage.new("RGB", (64, 64), (10, 20, 30)).save(buffer, format="PNG")
    (root / "cats" / "truncated.png").write_bytes(buffer.getvalue()[:60])


def test_image_folder_labels_by_subfolder_and_leaves_out_unreadable(tmp_path):
    _write_folder(tmp_path)
    with pytest.warns(UnreadableImagesWarning) as caught:
        ds = image_folder(tmp_path)
    message = str(caught[0].message)
    for bad in ("empty.png", "notes.png", "truncated.png"):
        assert bad in message
    assert ds["path"] == ["cats/gray.png", "cats/rgba.png", "dogs/ok.jpg", "dogs/palette.gif", "loose.png"]
    assert class_names(ds) == ["cats", "dogs"]
    assert ds["label"] == [0, 0, 1, 1, -1]
    assert all(row["image"].mode == "RGB" for row in ds)


def test_image_folder_strict_refuses_unreadable(tmp_path):
    _write_folder(tmp_path)
    with pytest.raises(ValueError, match=r"3 unreadable image file\(s\).*strict=True"):
        image_folder(tmp_path, strict=True)


def test_image_folder_without_subfolders_is_unlabeled(tmp_path):
    for i in range(3):
        PILImage.new("RGB", (4, 4), (i, i, i)).save(tmp_path / f"{i}.png")
    ds = image_folder(tmp_path)
    assert ds.column_names == ["image", "path"] and len(ds) == 3
    with pytest.raises(ValueError, match="no class sub-folders"):
        image_folder(tmp_path, labeled=True)
    with pytest.raises(ValueError, match="is not a folder"):
        image_folder(tmp_path / "missing")


def test_from_hub_loads_a_saved_dataset_and_renames_columns(tmp_path):
    features = Features({"img": Image(), "fine": ClassLabel(names=["a", "b"])})
    images = [PILImage.new("L", (6, 6), v) for v in (0, 255)]
    Dataset.from_dict({"img": images, "fine": [0, 1]}, features=features).save_to_disk(tmp_path / "saved")
    ds = from_hub(str(tmp_path / "saved"), image_column="img", label_column="fine")
    assert ds.column_names == ["image", "label"] and class_names(ds) == ["a", "b"]
    assert ds[1]["image"].mode == "L"  # decoded in the file's mode; alnb reads it through to_rgb
    (image,) = load_images(ds, np.array([1]))
    assert image.mode == "RGB" and np.asarray(image).min() == 255
    kept = from_hub(str(tmp_path / "saved"), image_column="img", label_column="fine", rename=False)
    assert kept.column_names == ["img", "fine"] and class_names(kept, "fine") == ["a", "b"]
    with pytest.raises(ValueError, match=r"column\(s\) \['picture'\] not found"):
        from_hub(str(tmp_path / "saved"), image_column="picture", label_column="fine")


def test_from_hub_offline_says_how_to_use_a_local_folder(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OSError, match=r"offline mode is set.*save_to_disk"):
        from_hub("no-such-user/no-such-dataset")


@pytest.mark.slow
def test_glyphs_xl_has_a_50k_pool_beside_the_glyphs_test_split():
    xl = load("glyphs-xl")
    assert len(xl["train"]) == 50_000
    assert np.bincount(xl["train"]["label"]).tolist() == [2500] * 20
    assert xl["test"]["label"] == load("glyphs")["test"]["label"]
