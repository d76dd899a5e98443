"""Dataset fingerprints: a store's header keeps one to refuse mixing datasets."""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Sequence
from typing import Any

__all__ = ["dataset_fingerprint"]


def dataset_fingerprint(dataset: Any, class_names: Sequence[str] | None = None) -> str:
    """A short string identifying a dataset; a :class:`~alnb.store.LabelStore` header keeps it to refuse mixing datasets.

    For a ``datasets.Dataset`` it is the library's own content fingerprint (``dataset._fingerprint``:
    deterministic across sessions for data built the same way, updated by ``select`` / ``map``) plus the
    length. For any other object with ``__len__`` it is the length plus a hash of the class names (from
    ``class_names``, else from a ``features["label"].names`` attribute, else none). That is weaker: it
    only tells apart datasets of different size or classes.

    Parameters
    ----------
    dataset : Sized
        A ``datasets.Dataset`` or any object with ``__len__``.
    class_names : sequence of str, optional
        Class names to hash for datasets without a content fingerprint.

    Returns
    -------
    str

    Examples
    --------
    >>> dataset_fingerprint(list(range(5)), ["cat", "dog"])  # doctest: +ELLIPSIS
    'len=5;classes=...'
    """
    try:
        n = len(dataset)
    except TypeError:
        raise ValueError(f"dataset must have a length (__len__), got {type(dataset).__name__}.") from None
    fingerprint = getattr(dataset, "_fingerprint", None)
    if isinstance(fingerprint, str) and fingerprint:
        return f"datasets:{fingerprint};len={n}"
    if class_names is None:
        with contextlib.suppress(AttributeError, KeyError, TypeError):
            class_names = list(dataset.features["label"].names)
    if class_names is None:
        return f"len={n}"
    digest = hashlib.sha256(json.dumps(list(class_names)).encode()).hexdigest()[:16]
    return f"len={n};classes={digest}"
