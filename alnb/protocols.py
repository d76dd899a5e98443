"""The shapes alnb's loop needs from a data set and a trainer, as typing protocols.

Anything with these methods works: a ``datasets.Dataset``, a list of images, or a trainer of your own. They are for
type checkers and readers; nothing here checks at run time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from alnb.models.base import Classifier
    from alnb.predictions import Predictions

__all__ = ["ImageDataset", "TrainerLike"]


class ImageDataset(Protocol):
    """Rows by dataset-wide index: a ``datasets.Dataset`` (rows are dicts with an image and maybe a label column),
    or a sequence of images."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: Any, /) -> Any: ...


class TrainerLike(Protocol):
    """What :class:`alnb.ActiveLearner` calls on its trainer (:class:`alnb.training.Trainer` is one)."""

    config: Any

    def fit(self, classifier: Classifier, dataset: ImageDataset, indices: Any, labels: Any) -> Any:
        """Train ``classifier``'s adapter on the labeled ``indices`` of ``dataset``."""
        ...

    def predict(
        self, classifier: Classifier, dataset: ImageDataset, indices: Any, mc_samples: int = 0
    ) -> Predictions:
        """Logits, probabilities and embeddings of ``indices``, in the order given."""
        ...
