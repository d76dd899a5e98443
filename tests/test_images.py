"""Images of every mode become the right 8-bit RGB image: real files written by Pillow, read back by Pillow,
by ``datasets`` (``image_folder``, ``load_images``) and by the widgets' PNG encoder."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from datasets import Dataset, Features, Image
from PIL import Image as PILImage

from alnb.datasets import image_folder
from alnb.images import needs_to_rgb, to_rgb
from alnb.training.data import load_images
from alnb.widgets._images import to_png

#: A 16 x 16 ramp over 12 bits, as a 12-bit camera stores it in a 16-bit file.
RAMP = (np.arange(256, dtype=np.uint16).reshape(16, 16) * 16).astype(np.uint16)


def _rgb(image: PILImage.Image) -> np.ndarray:
    out = to_rgb(image)
    assert out.mode == "RGB"
    return np.asarray(out)


def _ramp_is_scaled(rgb: np.ndarray) -> None:
    """The ramp's darkest pixel became 0, its brightest 255, monotonically, grey."""
    grey = rgb[..., 0].astype(int)
    assert (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all()
    assert grey.min() == 0 and grey.max() == 255
    assert (np.diff(grey.reshape(-1)) >= 0).all()
    assert 120 <= grey.mean() <= 135


def _write_16bit_png(path: Path) -> Path:
    PILImage.fromarray(RAMP).save(path)
    return path


def test_16_bit_png_is_min_max_scaled_not_white(tmp_path: Path) -> None:
    with PILImage.open(_write_16bit_png(tmp_path / "scan.png")) as im:
        assert im.mode.startswith("I;16")
        assert np.asarray(im.convert("RGB")).mean() > 240, "Pillow's own conversion clips it to white"
        _ramp_is_scaled(_rgb(im))


def test_32_bit_integer_tiff_is_min_max_scaled(tmp_path: Path) -> None:
    PILImage.fromarray(RAMP.astype(np.int32) * 1000).save(tmp_path / "deep.tif")
    with PILImage.open(tmp_path / "deep.tif") as im:
        assert im.mode == "I"
        _ramp_is_scaled(_rgb(im))


def test_float_tiff_is_min_max_scaled_and_nan_is_black(tmp_path: Path) -> None:
    values = RAMP.astype(np.float32) / 4096.0
    values[0, 1] = np.nan
    PILImage.fromarray(values).save(tmp_path / "float.tif")
    with PILImage.open(tmp_path / "float.tif") as im:
        assert im.mode == "F"
        rgb = _rgb(im)
    assert rgb[0, 1, 0] == 0 and rgb[-1, -1, 0] == 255 and rgb[8, 8, 0] > 100


def test_constant_16_bit_image_keeps_its_level() -> None:
    flat = PILImage.fromarray(np.full((4, 4), 65535, dtype=np.uint16))
    assert (_rgb(flat) == 255).all()


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    image = PILImage.new("RGB", (20, 10), (255, 0, 0))
    image.paste((0, 0, 255), (10, 0, 20, 10))  # right half blue
    exif = PILImage.Exif()
    exif[0x0112] = 6  # the camera was turned: rotate 90 degrees clockwise to view
    image.save(tmp_path / "phone.jpg", exif=exif, quality=95)
    with PILImage.open(tmp_path / "phone.jpg") as im:
        assert im.size == (20, 10)
        rgb = _rgb(im)
    assert rgb.shape == (20, 10, 3)  # upright: 10 wide, 20 tall
    top, bottom = rgb[2, 5], rgb[-3, 5]
    assert top[0] > 200 and top[2] < 60, "the left (red) half is on top after a clockwise turn"
    assert bottom[2] > 200 and bottom[0] < 60


def test_cmyk_jpeg_converts(tmp_path: Path) -> None:
    image = PILImage.new("CMYK", (8, 8), (0, 255, 255, 0))  # red ink mix
    image.paste((0, 0, 0, 0), (4, 0, 8, 8))  # no ink: paper white
    image.save(tmp_path / "print.jpg", quality=95)
    with PILImage.open(tmp_path / "print.jpg") as im:
        assert im.mode == "CMYK"
        rgb = _rgb(im).astype(int)
    assert rgb[4, 1, 0] > 230 and rgb[4, 1, 1] < 30 and rgb[4, 1, 2] < 30
    assert (rgb[4, 6] > 230).all()


def test_palette_transparency_is_composited_on_white(tmp_path: Path) -> None:
    image = PILImage.new("P", (8, 8), 0)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * (3 * 254))  # index 0 black (transparent), 1 red
    image.paste(1, (0, 0, 4, 8))
    image.save(tmp_path / "icon.png", transparency=0)
    with PILImage.open(tmp_path / "icon.png") as im:
        assert im.mode == "P" and "transparency" in im.info
        assert needs_to_rgb(im)
        assert (np.asarray(im.convert("RGB"))[:, 4:] == 0).all(), "Pillow shows the hidden black"
        rgb = _rgb(im)
        black = np.asarray(to_rgb(im, background=(0, 0, 0)))
    assert (rgb[:, 4:] == 255).all() and (rgb[:, :4] == (255, 0, 0)).all()
    assert (black[:, 4:] == 0).all()


def test_rgba_is_composited_on_white(tmp_path: Path) -> None:
    PILImage.new("RGBA", (4, 4), (0, 0, 0, 0)).save(tmp_path / "clear.png")
    with PILImage.open(tmp_path / "clear.png") as im:
        assert (_rgb(im) == 255).all()


def test_animated_gif_gives_its_first_frame(tmp_path: Path) -> None:
    frames = [PILImage.new("RGB", (6, 6), c) for c in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    with PILImage.open(tmp_path / "anim.gif") as im:
        assert im.is_animated and im.n_frames == 2
        im.seek(1)
        rgb = _rgb(im)
    assert rgb[3, 3, 0] > 200 and rgb[3, 3, 2] < 60


def test_bad_background_names_the_argument() -> None:
    with pytest.raises(ValueError, match=r"background must be an RGB tuple.*got \(1, 2\)"):
        to_rgb(PILImage.new("RGBA", (2, 2)), background=(1, 2))  # type: ignore[arg-type]


def test_image_folder_scales_16_bit_and_composites_transparency(tmp_path: Path) -> None:
    (tmp_path / "cells").mkdir()
    _write_16bit_png(tmp_path / "cells" / "a.png")
    PILImage.new("RGBA", (4, 4), (0, 0, 0, 0)).save(tmp_path / "cells" / "b.png")
    PILImage.new("RGB", (4, 4), (1, 2, 3)).save(tmp_path / "cells" / "c.png")
    ds = image_folder(tmp_path)
    assert ds["path"] == ["cells/a.png", "cells/b.png", "cells/c.png"]
    first, second, third = (ds[i]["image"] for i in range(3))
    assert all(im.mode == "RGB" for im in (first, second, third))
    _ramp_is_scaled(np.asarray(first))
    assert (np.asarray(second) == 255).all()
    assert (np.asarray(third) == (1, 2, 3)).all()


def test_load_images_and_widget_png_scale_16_bit_from_a_dataset(tmp_path: Path) -> None:
    path = _write_16bit_png(tmp_path / "scan.png")
    ds = Dataset.from_dict({"image": [str(path)]}, features=Features({"image": Image()}))
    assert ds[0]["image"].mode.startswith("I;16")
    (image,) = load_images(ds, np.array([0], dtype=np.int64))
    _ramp_is_scaled(np.asarray(image))
    png = PILImage.open(io.BytesIO(to_png(ds[0]["image"], size=16)))
    _ramp_is_scaled(np.asarray(png.convert("RGB")))


def test_classifier_preprocess_sees_the_scaled_image(clip_dir: str, tmp_path: Path) -> None:
    from alnb.models import load_classifier

    clf = load_classifier(clip_dir, ["red", "green"], adapter="zeroshot")
    with PILImage.open(_write_16bit_png(tmp_path / "scan.png")) as im:
        im.load()
        raw = clf.preprocess(im)
        expected = clf.preprocess(to_rgb(im))
    white = clf.preprocess(PILImage.new("RGB", (16, 16), (255, 255, 255)))
    assert raw.shape == white.shape
    assert np.allclose(raw.numpy(), expected.numpy()) and not np.allclose(raw.numpy(), white.numpy())
