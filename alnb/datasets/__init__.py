"""Image data sets for alnb: built-in offline sets, a user's image folder, and any Hugging Face image data set.

Every loader returns ``datasets.Dataset`` / ``datasets.DatasetDict`` objects with an ``image`` column and, when labels
are known, a ``label`` ClassLabel column whose names make good prompts (:func:`from_hub` can keep a data set's own
columns instead, e.g. ``img`` / ``fine_label``, for a :class:`alnb.Pool` told them). Built-in and folder images are RGB;
hub images decode in their file's mode and alnb reads every image through :func:`alnb.images.to_rgb`.
"""

from typing import Any

from alnb.datasets.builtin import available, load
from alnb.datasets.folder import image_folder
from alnb.datasets.hub import from_hub

__all__ = ["available", "class_names", "from_hub", "image_folder", "load"]


def class_names(dataset: Any, label_column: str = "label") -> list[str]:
    """The class names of a data set's ClassLabel column (``label_column``, e.g. ``"fine_label"``)."""
    feature = dataset.features.get(label_column)
    names = getattr(feature, "names", None)
    if not names:
        raise ValueError(
            f"label_column={label_column!r} is not a ClassLabel column of this data set "
            f"(columns: {list(dataset.features)}); pass class_names explicitly"
        )
    return list(names)
