"""One place where any PIL image becomes the 8-bit RGB image a model or a person sees: :func:`to_rgb`.

Everything in alnb that reads images (``load_images``, ``Classifier.preprocess``, ``image_folder``, the widgets)
goes through it, so a 16-bit microscope PNG, a rotated phone photo, a CMYK scan, a transparent palette icon and an
animated GIF look the same in training, in predictions and in the labeling widget.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PIL import Image, ImageOps

__all__ = ["BACKGROUND", "needs_to_rgb", "to_rgb"]

#: Colour transparent pixels are composited on (white, like a page or a browser's default background).
BACKGROUND: tuple[int, int, int] = (255, 255, 255)

#: Modes whose ``convert("RGB")`` is already right (no alpha, 8 bits per channel).
_PLAIN_MODES = frozenset({"1", "L", "P", "RGB", "CMYK", "YCbCr"})
#: Modes with an alpha channel.
_ALPHA_MODES = frozenset({"RGBA", "RGBa", "LA", "La", "PA"})
_ORIENTATION = 0x0112


def _is_high_bit_depth(mode: str) -> bool:
    return mode in ("I", "F") or mode.startswith("I;16")


def _scale_to_uint8(image: Image.Image) -> Image.Image:
    """Min-max scale a one-channel ``I;16*`` / ``I`` / ``F`` image to 8 bits (grey ``L``)."""
    values = np.asarray(image, dtype=np.float64)
    finite = np.isfinite(values)
    if not finite.any():
        return Image.new("L", image.size, 0)
    low, high = float(values[finite].min()), float(values[finite].max())
    if high > low:
        scaled = (values - low) * (255.0 / (high - low))
    elif image.mode.startswith("I;16"):  # a constant image: keep where it sits in the 16-bit range
        scaled = values / 257.0
    else:
        scaled = values
    scaled = np.where(finite, scaled, 0.0)
    return Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8), mode="L")


def _has_transparency(image: Image.Image) -> bool:
    return image.mode in _ALPHA_MODES or "transparency" in image.info


def needs_to_rgb(image: Image.Image) -> bool:
    """Whether :func:`to_rgb` gives something else than ``image.convert("RGB")`` after ``datasets``' own EXIF
    transposition: high bit depth (``I;16``, ``I``, ``F``), an alpha channel or a transparent colour."""
    return image.mode not in _PLAIN_MODES or _has_transparency(image)


def to_rgb(image: Any, background: tuple[int, int, int] = BACKGROUND) -> Image.Image:
    """An 8-bit RGB copy of ``image`` (``image`` itself when it is already plain RGB).

    - **16-bit and 32-bit** images (modes ``I;16``, ``I;16B``, ``I``, ``F``: microscopes, scanners, medical
      images) are **min-max scaled per image**: the darkest finite pixel becomes 0 and the brightest 255 (NaN
      and inf become 0). A constant image keeps its value (``I;16`` divided by 257, ``I``/``F`` clipped to
      0..255). ``convert("RGB")`` would clip them, which turns most 16-bit images solid white.
    - **EXIF orientation** is applied (``ImageOps.exif_transpose``), so a phone photo stands upright.
    - **Transparency** (RGBA, LA, PA, a palette or grey image with a transparent colour) is composited over
      ``background``, white by default; without that, transparent pixels show whatever colour they hide.
    - **CMYK**, YCbCr, palette and 1-bit images are converted with Pillow's own conversion.
    - **Animated** images (GIF, APNG, WebP, multi-page TIFF) give their **first frame**.

    Parameters
    ----------
    image : PIL.Image.Image
        Any image Pillow can read.
    background : tuple of 3 ints
        RGB colour (0..255 each) transparent pixels are composited on.

    Returns
    -------
    PIL.Image.Image
        Mode ``"RGB"``, 8 bits per channel.

    Examples
    --------
    >>> import numpy as np
    >>> from PIL import Image
    >>> sixteen = Image.fromarray(np.array([[0, 1000], [2000, 4000]], dtype=np.uint16))
    >>> np.asarray(to_rgb(sixteen))[..., 0].tolist()
    [[0, 64], [128, 255]]
    """
    if not isinstance(image, Image.Image):
        raise ValueError(f"image must be a PIL image, got {type(image).__name__}.")
    if (
        not isinstance(background, tuple | list)
        or len(background) != 3
        or not all(isinstance(c, int) and not isinstance(c, bool) and 0 <= c <= 255 for c in background)
    ):
        raise ValueError(f"background must be an RGB tuple of three ints in 0..255, got {background!r}.")
    if getattr(image, "is_animated", False) and image.tell() != 0:
        image.seek(0)
    if image.getexif().get(_ORIENTATION, 1) not in (1, None):
        transposed = ImageOps.exif_transpose(image)
        if transposed is not None:
            image = transposed
    if image.mode == "RGB" and "transparency" not in image.info:
        return image
    if _is_high_bit_depth(image.mode):
        return _scale_to_uint8(image).convert("RGB")
    if _has_transparency(image):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (*background, 255))
        return Image.alpha_composite(canvas, rgba).convert("RGB")
    try:
        return image.convert("RGB")
    except (ValueError, OSError) as error:
        raise ValueError(
            f"image mode {image.mode!r} cannot be converted to RGB ({error}); expected a mode Pillow converts, "
            "e.g. L, P, RGB, RGBA, CMYK, I;16, I or F."
        ) from error
