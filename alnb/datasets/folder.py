"""A user's folder of images as a ``datasets.Dataset``."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

from datasets import ClassLabel, Dataset, Features, Image, Value
from PIL import Image as PILImage

from alnb.images import needs_to_rgb, to_rgb

__all__ = ["IMAGE_EXTENSIONS", "UnreadableImagesWarning", "image_folder"]

IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"})


class UnreadableImagesWarning(UserWarning):
    """Some files of an image folder could not be read and were left out."""


def _read(path: Path) -> tuple[str | None, bytes | None]:
    """``(why not, None)`` when the file does not decode completely as an image; else ``(None, png)`` where
    ``png`` is the file made 8-bit RGB by :func:`alnb.images.to_rgb` when ``datasets``' own ``convert("RGB")``
    would get it wrong (16-bit, transparency), or ``None`` when the file can be decoded as it is."""
    if path.stat().st_size == 0:
        return "zero bytes", None
    try:
        with PILImage.open(path) as im:
            im.load()  # decodes every pixel, so truncated files fail here
            if not needs_to_rgb(im):
                return None, None
            buffer = io.BytesIO()
            to_rgb(im).save(buffer, format="PNG")
            return None, buffer.getvalue()
    except Exception as error:  # Pillow raises many types for bad files
        return f"{type(error).__name__}: {error}", None


def image_folder(path: str | Path, *, labeled: bool | None = None, strict: bool = False) -> Dataset:
    """Load a folder of images.

    Parameters
    ----------
    path : str or Path
        The folder. When it has sub-folders holding images, each sub-folder is a class (``cats/1.jpg`` is labeled
        "cats") and the ``label`` column is a ClassLabel; images lying directly in ``path`` are unlabeled (label -1).
        Without sub-folders every image is unlabeled and there is no ``label`` column.
    labeled : bool, optional
        Force (True) or forbid (False) labels from sub-folders; by default inferred as above.
    strict : bool
        Unreadable files (corrupt, truncated, zero bytes, not images) are left out with one warning that lists them;
        with ``strict=True`` they raise ``ValueError`` instead.

    Returns
    -------
    datasets.Dataset
        Columns ``image`` (decoded as 8-bit RGB, whatever the file's mode, by :func:`alnb.images.to_rgb`: 16-bit
        images are min-max scaled, EXIF orientation is applied, transparency is composited on white, animations give
        their first frame; files that need more than Pillow's ``convert("RGB")`` are converted once, here, and held
        in memory as PNG),
        ``path`` (relative to ``path``) and, when labeled, ``label``. Rows are in sorted path order, so indices are stable.
    """
    root = Path(path).expanduser()
    if not root.is_dir():
        raise ValueError(
            f"path={str(path)!r} is not a folder; expected a folder of images (optionally in class sub-folders)"
        )
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    files = [p for p in files if not any(part.startswith(".") for part in p.relative_to(root).parts)]
    read = {p: _read(p) for p in files}
    bad = {p: why for p, (why, _) in read.items() if why is not None}
    if bad:
        listing = "\n".join(f"  {p}: {why}" for p, why in bad.items())
        if strict:
            raise ValueError(f"{len(bad)} unreadable image file(s) in {root} (strict=True):\n{listing}")
        warnings.warn(
            f"left out {len(bad)} unreadable image file(s) in {root}:\n{listing}",
            UnreadableImagesWarning,
            stacklevel=2,
        )
    files = [p for p in files if p not in bad]
    if not files:
        raise ValueError(
            f"path={str(path)!r} holds no readable images with extensions {sorted(IMAGE_EXTENSIONS)}"
        )
    relative = [p.relative_to(root) for p in files]
    class_dirs = sorted({r.parts[0] for r in relative if len(r.parts) > 1})
    use_labels = bool(class_dirs) if labeled is None else labeled
    if use_labels and not class_dirs:
        raise ValueError(f"labeled=True but {root} has no class sub-folders")
    images: list[str | dict[str, bytes | None]] = [
        str(p) if (png := read[p][1]) is None else {"bytes": png, "path": None} for p in files
    ]
    data: dict[str, list] = {"image": images, "path": [r.as_posix() for r in relative]}
    features = {"image": Image(mode="RGB"), "path": Value("string")}
    if use_labels:
        data["label"] = [class_dirs.index(r.parts[0]) if len(r.parts) > 1 else -1 for r in relative]
        features["label"] = ClassLabel(names=class_dirs)
    return Dataset.from_dict(data, features=Features(features))
