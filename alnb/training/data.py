"""Reading images from a dataset by dataset-wide index, and the training augmentation."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from PIL import Image

from alnb._validation import describe
from alnb.images import to_rgb

__all__ = ["check_indices", "load_images", "random_resized_crop_flip"]


def check_indices(indices: Any, size: int, name: str = "indices") -> npt.NDArray[np.int64]:
    """Validate dataset-wide indices: 1-D integers in ``[0, size)`` without repeats; returned as int64."""
    array = np.asarray(indices)
    if array.ndim != 1:
        raise ValueError(f"{name} must be a 1-D sequence of dataset indices, got {describe(indices)}.")
    if array.size and not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{name} must hold integer dataset indices, got {describe(array)}.")
    array = array.astype(np.int64)
    if array.size:
        low, high = int(array.min()), int(array.max())
        if low < 0 or high >= size:
            bad = low if low < 0 else high
            raise ValueError(f"{name} must lie in [0, {size}) for a dataset of {size} items, got {bad}.")
        unique, counts = np.unique(array, return_counts=True)
        if (counts > 1).any():
            raise ValueError(
                f"{name} must not repeat an index, but {unique[counts > 1][:10].tolist()} repeat."
            )
    return array


def _to_image(item: Any, column: str) -> Any:
    if isinstance(item, Mapping):
        if column not in item:
            raise ValueError(
                f"image_column {column!r} is not a key of the dataset items; keys: {sorted(item)}."
            )
        item = item[column]
    elif isinstance(item, tuple | list) and item:
        item = item[0]
    return item


def load_images(dataset: Any, indices: npt.NDArray[np.int64], column: str = "image") -> list[Any]:
    """Images of ``dataset`` at ``indices``, 8-bit RGB (through :func:`alnb.images.to_rgb`: 16-bit images
    min-max scaled, EXIF orientation applied, transparency on white, first frame of animations).

    Works with a ``datasets.Dataset`` (one batched read of ``column``), a sequence of dicts, a sequence of
    ``(image, label)`` tuples, or a sequence of images.
    """
    index_list = [int(i) for i in indices]
    column_names = getattr(dataset, "column_names", None)
    if isinstance(column_names, list):
        if column not in column_names:
            raise ValueError(
                f"image_column {column!r} is not a column of the dataset; columns: {column_names}."
            )
        images = dataset[index_list][column] if index_list else []
    else:
        images = [_to_image(dataset[i], column) for i in index_list]
    return [to_rgb(im) if isinstance(im, Image.Image) else im for im in images]


def random_resized_crop_flip(
    image: Image.Image,
    rng: np.random.Generator,
    scale: tuple[float, float] = (0.5, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
) -> Image.Image:
    """A random crop covering ``scale`` of the area with aspect ``ratio``, resized back (bicubic), flipped
    with probability 1/2. The model's image processor resizes afterwards anyway."""
    width, height = image.size
    area = width * height
    for _ in range(10):
        target = area * rng.uniform(*scale)
        aspect = float(np.exp(rng.uniform(np.log(ratio[0]), np.log(ratio[1]))))
        w = round(np.sqrt(target * aspect))
        h = round(np.sqrt(target / aspect))
        if 0 < w <= width and 0 < h <= height:
            left = int(rng.integers(0, width - w + 1))
            top = int(rng.integers(0, height - h + 1))
            image = image.resize(
                (width, height), Image.Resampling.BICUBIC, box=(left, top, left + w, top + h)
            )
            break
    if rng.random() < 0.5:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return image


class ImageBatches:
    """``collate_fn`` that turns a batch of row positions into ``(pixel_values, labels, positions)``.

    Images are read in one batched access and preprocessed together (much faster than per item). It runs in the
    DataLoader's worker processes when there are any, so augmentation draws from a generator seeded per item
    (``augment_seed`` + the item's dataset index): the crops do not depend on which worker or batch an item lands in.
    """

    def __init__(
        self,
        dataset: Any,
        indices: npt.NDArray[np.int64],
        labels: torch.Tensor | None,
        column: str,
        preprocess: Callable[[list[Any]], torch.Tensor],
        augment_seed: tuple[int, ...] | None = None,
    ) -> None:
        self.dataset, self.indices, self.labels = dataset, indices, labels
        self.column, self.preprocess = column, preprocess
        self.augment_seed = augment_seed

    def reseed(self, seed: tuple[int, ...]) -> None:
        """Seed the next epoch's augmentation (no-op without augmentation)."""
        if self.augment_seed is not None:
            self.augment_seed = tuple(seed)

    def __call__(self, positions: list[int]) -> dict[str, torch.Tensor]:
        pos = np.asarray(positions, dtype=np.int64)
        items = self.indices[pos]
        images = load_images(self.dataset, items, self.column)
        if self.augment_seed is not None:
            images = [
                random_resized_crop_flip(im, np.random.default_rng([*self.augment_seed, int(i)]))
                for im, i in zip(images, items, strict=True)
            ]
        batch = {"pixel_values": self.preprocess(images), "positions": torch.from_numpy(pos)}
        if self.labels is not None:
            batch["labels"] = self.labels[torch.from_numpy(pos)]
        return batch


class FeatureBatches:
    """``collate_fn`` over cached features: ``(image_features, labels, positions)``."""

    def __init__(self, features: torch.Tensor, labels: torch.Tensor | None) -> None:
        self.features, self.labels = features, labels

    def __call__(self, positions: list[int]) -> dict[str, torch.Tensor]:
        pos = torch.as_tensor(positions, dtype=torch.long)
        batch = {"image_features": self.features[pos], "positions": pos}
        if self.labels is not None:
            batch["labels"] = self.labels[pos]
        return batch


class Positions(torch.utils.data.Dataset):
    """Row positions ``0..n-1`` in an order set per epoch (all processes compute the same order)."""

    def __init__(self, n: int) -> None:
        self.order = np.arange(n, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.order)

    def __getitem__(self, i: int) -> int:
        return int(self.order[i])
