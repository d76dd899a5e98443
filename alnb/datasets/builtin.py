"""Built-in offline data sets: scikit-learn's handwritten digits and the out-of-distribution ``glyphs`` task."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
from datasets import ClassLabel, Dataset, DatasetDict, Features, Image

from alnb.embedded.world import (
    DIGIT_NAMES,
    HELD_OUT_BACKGROUNDS,
    HELD_OUT_COLORS,
    SHAPES,
    render_digit_like_sklearn,
    render_scene,
    sample_scene,
)

__all__ = ["available", "load"]


def _to_dict(images: list, labels: np.ndarray, names: list[str]) -> Dataset:
    features = Features({"image": Image(), "label": ClassLabel(names=names)})
    return Dataset.from_dict({"image": images, "label": [int(x) for x in labels]}, features=features)


def _digits(seed: int, test_size: float) -> DatasetDict:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    raw = load_digits()
    train_idx, test_idx = train_test_split(
        np.arange(len(raw.target)), test_size=test_size, stratify=raw.target, random_state=seed
    )
    names = [f"digit {d}" for d in DIGIT_NAMES]
    images = [render_digit_like_sklearn(x) for x in raw.images]
    return DatasetDict(
        {
            split: _to_dict([images[i] for i in idx], raw.target[idx], names)
            for split, idx in (("train", np.sort(train_idx)), ("test", np.sort(test_idx)))
        }
    )


def _glyphs(seed: int, test_size: float, size: int = 4000) -> DatasetDict:
    """20 classes (10 digits, 10 shapes) in palettes and backgrounds held out of pretraining, with heavier noise and blur,
    small off-centre glyphs and rotations up to 45° (pretraining saw about 12°): out of the embedded model's distribution
    (its zero-shot accuracy falls from about 0.9 on the held-out palettes alone to about 0.5 here)."""
    names = [f"digit {d}" for d in DIGIT_NAMES] + list(SHAPES)
    glyph_names = list(DIGIT_NAMES) + list(SHAPES)
    rng = np.random.default_rng([seed, 20])
    labels = np.repeat(np.arange(len(names)), int(np.ceil(size / len(names))))[:size]
    rng.shuffle(labels)
    images = []
    for label in labels:
        scene = sample_scene(
            rng, name=glyph_names[label], colors=tuple(HELD_OUT_COLORS), backgrounds=HELD_OUT_BACKGROUNDS
        )
        scene = dataclasses.replace(
            scene,
            noise=float(rng.choice([20.0, 30.0])),
            blur=float(rng.choice([0.5, 1.0])),
            rotation=float(rng.uniform(-45.0, 45.0)),
            size="small",
            position=str(rng.choice(["left", "right", "top", "bottom", "center"])),
        )
        images.append(render_scene(scene))
    n_test = round(size * test_size)
    return DatasetDict(
        {
            "train": _to_dict(images[n_test:], labels[n_test:], names),
            "test": _to_dict(images[:n_test], labels[:n_test], names),
        }
    )


_BUILTIN: dict[str, tuple[Callable[..., DatasetDict], str]] = {
    "digits": (_digits, "scikit-learn's 1,797 handwritten 8×8 digits as 32×32 RGB, 10 classes"),
    "glyphs": (
        _glyphs,
        "4,000 noisy, rotated procedural digits and shapes in held-out palettes and backgrounds, 20 classes",
    ),
}


def available() -> dict[str, str]:
    """Names of the built-in data sets with a one-line description of each."""
    return {name: description for name, (_, description) in _BUILTIN.items()}


def load(name: str = "digits", *, seed: int = 0, test_size: float = 0.25) -> DatasetDict:
    """Load a built-in data set, offline, as a ``DatasetDict`` with ``train`` (the pool) and ``test`` splits.

    Parameters
    ----------
    name : {"digits", "glyphs"}
        ``digits``: scikit-learn's handwritten digits, white ink on black, upscaled to 24 px and padded to 32 (the scale
        the embedded CLIP sees best), with a fixed stratified split. ``glyphs``: a harder 20-class task whose palettes and
        backgrounds never appear in the embedded model's pretraining (out of distribution, PEAL's setting).
    seed : int
        Seed of the split (and of the drawing, for ``glyphs``); the default split is the documented fixed one.
    test_size : float
        Share of the test split, in (0, 1).

    Examples
    --------
    >>> from alnb.datasets import load
    >>> ds = load("digits")
    >>> ds["train"].features["label"].names[:2]
    ['digit zero', 'digit one']
    """
    if name not in _BUILTIN:
        raise ValueError(f"name={name!r} is not a built-in data set; expected one of {sorted(_BUILTIN)}")
    if not 0 < test_size < 1:
        raise ValueError(f"test_size={test_size!r} must lie strictly between 0 and 1")
    builder, _ = _BUILTIN[name]
    return builder(seed, test_size)
