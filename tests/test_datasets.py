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


@pytest.fixture(scope="module")
def digits():
    return load("digits")


def test_digits_split_is_fixed_stratified_and_rgb(digits):
    train, test = digits["train"], digits["test"]
    assert len(train) + len(test) == 1797
    assert class_names(train) == [
        "digit zero", "digit one", "digit two", "digit three", "digit four",
        "digit five", "digit six", "digit seven", "digit eight", "digit nine",
    ]  # fmt: skip
    train_share = np.bincount(train["label"], minlength=10) / np.bincount(
        np.concatenate([train["label"], test["label"]]), minlength=10
    )
    assert np.allclose(train_share, 0.75, atol=0.02)
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
    assert set(glyphs["train"]["label"]) == set(range(20))
    # The glyph ink colours come from the held-out palette: some pixel of each image is near one of them.
    palette = np.array(list(HELD_OUT_COLORS.values()), dtype=np.float32)
    image = np.asarray(glyphs["train"][0]["image"], dtype=np.float32).reshape(-1, 3)
    distance = np.abs(image[:, None, :] - palette[None]).max(-1).min()
    assert distance < 40


def test_unknown_builtin_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"name='mnist'.*\['digits', 'glyphs'\]"):
        load("mnist")
    assert set(available()) == {"digits", "glyphs"}


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
    assert ds[1]["image"].mode == "RGB"
    with pytest.raises(ValueError, match=r"column\(s\) \['picture'\] not found"):
        from_hub(str(tmp_path / "saved"), image_column="picture", label_column="fine")


def test_from_hub_offline_says_how_to_use_a_local_folder(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OSError, match=r"offline mode is set.*save_to_disk"):
        from_hub("no-such-user/no-such-dataset")
