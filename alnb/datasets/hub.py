"""Any Hugging Face image classification data set, from the hub or from a folder written by ``save_to_disk``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from datasets import ClassLabel, Dataset, DatasetDict, Image, load_dataset, load_from_disk

__all__ = ["from_hub"]


def _normalise(ds: Dataset, image_column: str, label_column: str | None, rename: bool) -> Dataset:
    missing = [c for c in (image_column, label_column) if c is not None and c not in ds.column_names]
    if missing:
        raise ValueError(
            f"column(s) {missing} not found (image_column={image_column!r}, label_column={label_column!r}); "
            f"the data set has columns {ds.column_names}"
        )
    if rename and image_column != "image":
        ds = ds.rename_column(image_column, "image")
        image_column = "image"
    if rename and label_column is not None and label_column != "label":
        ds = ds.rename_column(label_column, "label")
        label_column = "label"
    if label_column is not None and not isinstance(ds.features[label_column], ClassLabel):
        raise ValueError(
            f"label_column={label_column!r} has type {ds.features[label_column]}; expected a ClassLabel column "
            "(cast it with dataset.class_encode_column first)"
        )
    # Decoded in the file's own mode: alnb reads every image through alnb.images.to_rgb, which scales 16-bit and
    # float images to 8 bit; datasets' Image(mode="RGB") would clip them (a 16-bit scan turns white).
    feature = ds.features[image_column]
    if not isinstance(feature, Image) or feature.mode is not None or not feature.decode:
        ds = ds.cast_column(image_column, Image())
    return ds


def from_hub(
    name: str,
    *,
    image_column: str = "image",
    label_column: str | None = "label",
    split: str | None = None,
    rename: bool = True,
    **load_kwargs: Any,
) -> Dataset | DatasetDict:
    """Load an image classification data set by hub name or local ``save_to_disk`` folder.

    Parameters
    ----------
    name : str
        A hub data set id, or a folder written by ``save_to_disk`` (a ``Dataset`` or a ``DatasetDict``).
    image_column, label_column : str
        The columns holding the images and the (ClassLabel) labels, e.g. ``"img"`` / ``"fine_label"`` for CIFAR-100;
        ``label_column=None`` for an unlabeled set.
    split : str, optional
        Load one split only.
    rename : bool
        Rename the columns to ``image`` / ``label`` (default); ``False`` keeps them, for a
        :class:`alnb.Pool` told the columns (``Pool(..., image_column="img", label_column="fine_label")``).
    **load_kwargs
        Passed to ``datasets.load_dataset``.

    Returns
    -------
    datasets.Dataset or datasets.DatasetDict
        Images decode in their own mode; alnb converts them with :func:`alnb.images.to_rgb` when it reads them (16-bit
        and float images are scaled to 8 bit, EXIF orientation applied, transparency composited on white). Offline
        (``HF_HUB_OFFLINE=1``) or without a network, a hub name fails with a message saying how to pass a local folder
        instead.
    """
    try:
        if Path(name).expanduser().is_dir() and (
            (Path(name) / "dataset_info.json").is_file() or (Path(name) / "dataset_dict.json").is_file()
        ):
            loaded = load_from_disk(str(Path(name).expanduser()))
            if split is not None:
                if not isinstance(loaded, DatasetDict) or split not in loaded:
                    available = list(loaded) if isinstance(loaded, DatasetDict) else []
                    raise ValueError(f"split={split!r} not found; the saved data set has splits {available}")
                loaded = loaded[split]
        else:
            loaded = load_dataset(name, split=split, **load_kwargs)
    except (ConnectionError, OSError) as error:
        offline = os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False")
        reason = "offline mode is set (HF_HUB_OFFLINE=1)" if offline else "the hub could not be reached"
        raise OSError(
            f"could not load data set {name!r}: {reason}. Download it once where a network is available "
            f"(datasets.load_dataset({name!r}).save_to_disk('some/folder')) and pass that folder instead."
        ) from error
    if isinstance(loaded, DatasetDict):
        return DatasetDict({k: _normalise(v, image_column, label_column, rename) for k, v in loaded.items()})
    return _normalise(loaded, image_column, label_column, rename)
