"""Dataset rows to PNG bytes for ``ipywidgets.Image``: tiny images are upscaled so a person can see them."""

from __future__ import annotations

import io
from typing import Any

from PIL import Image

from alnb.images import to_rgb

__all__ = ["row_image", "to_png"]


def to_png(image: Any, size: int) -> bytes:
    """PNG bytes of ``image`` fitted into a ``size`` × ``size`` box.

    Images smaller than the box are enlarged by the largest whole factor that fits, with nearest-neighbour
    resampling: a 32×32 digit stays crisp (a smooth filter would blur its few pixels into grey). Larger images
    are shrunk with a smooth filter. Any mode becomes 8-bit RGB with :func:`alnb.images.to_rgb` (16-bit images
    min-max scaled, EXIF orientation applied, transparency on white, first frame of animations), exactly as the
    model sees it.

    Examples
    --------
    >>> from PIL import Image
    >>> png = to_png(Image.new("L", (32, 16)), size=96)
    >>> Image.open(io.BytesIO(png)).size
    (96, 48)
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 8:
        raise ValueError(f"size must be an integer of at least 8 pixels, got {size!r}.")
    if not isinstance(image, Image.Image):
        raise ValueError(f"image must be a PIL image, got {type(image).__name__}.")
    rgb = to_rgb(image)
    width, height = rgb.size
    longest = max(width, height)
    if longest <= size:
        factor = max(1, size // longest)
        rgb = rgb.resize((width * factor, height * factor), Image.Resampling.NEAREST)
    else:
        scale = size / longest
        rgb = rgb.resize(
            (max(1, round(width * scale)), max(1, round(height * scale))), Image.Resampling.BILINEAR
        )
    buffer = io.BytesIO()
    rgb.save(buffer, format="PNG")
    return buffer.getvalue()


def row_image(dataset: Any, index: int, column: str) -> Image.Image:
    """The image in ``column`` of row ``index`` (decoded by ``datasets``; a file path is opened)."""
    value = dataset[int(index)][column]
    if isinstance(value, Image.Image):
        return value
    if isinstance(value, (str, bytes)) or hasattr(value, "__fspath__"):
        with Image.open(value if not isinstance(value, bytes) else io.BytesIO(value)) as im:
            im.load()
            return im.copy()
    raise ValueError(
        f"column {column!r} of row {index} holds {type(value).__name__}, expected an image "
        "(a PIL image or a file path)."
    )
