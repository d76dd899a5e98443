"""Model outputs on a set of dataset indices: what flows from the trainer to strategies, metrics and widgets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch

__all__ = ["Predictions"]


@dataclass(frozen=True)
class Predictions:
    """Predictions of a classifier on a set of items, addressed by **dataset-wide** indices.

    Parameters
    ----------
    indices : ndarray of int64, shape (N,)
        Dataset-wide index of each row (never pool-relative).
    logits : Tensor, shape (N, C)
        Raw class scores (float32, CPU).
    probs : Tensor, shape (N, C)
        Class probabilities; the mean over ``prob_samples`` when those are present.
    embeddings : Tensor, shape (N, d), optional
        Image features the classifier computed (used by diversity strategies such as BADGE and Coreset).
    prob_samples : Tensor, shape (N, C, K), optional
        K stochastic forward passes (MC dropout) or ensemble members, for BALD-style strategies.
    text_features : Tensor, shape (C, d), optional
        The classifier's class text features, one row per class (vision-language models only), in the space of
        ``embeddings``; class-guided strategies (``cb``) mix them into the image features.
    """

    indices: npt.NDArray[np.int64]
    logits: torch.Tensor
    probs: torch.Tensor
    embeddings: torch.Tensor | None = None
    prob_samples: torch.Tensor | None = None
    text_features: torch.Tensor | None = None

    def __post_init__(self) -> None:
        n = len(self.indices)
        for name in ("logits", "probs", "embeddings", "prob_samples"):
            value = getattr(self, name)
            if value is not None and value.shape[0] != n:
                raise ValueError(
                    f"Predictions.{name} has {value.shape[0]} rows but indices has {n}; expected one row per index."
                )
        if self.probs.ndim != 2:
            raise ValueError(f"Predictions.probs must be shaped [N, C], got {tuple(self.probs.shape)}.")
        if self.prob_samples is not None and self.prob_samples.ndim != 3:
            raise ValueError(
                f"Predictions.prob_samples must be shaped [N, C, K], got {tuple(self.prob_samples.shape)}."
            )
        if self.text_features is not None and (
            self.text_features.ndim != 2 or self.text_features.shape[0] != self.probs.shape[1]
        ):
            raise ValueError(
                f"Predictions.text_features must be shaped [C, d] with C = {self.probs.shape[1]} classes, got "
                f"{tuple(self.text_features.shape)}."
            )

    def __len__(self) -> int:
        return len(self.indices)

    @property
    def num_classes(self) -> int:
        return int(self.probs.shape[1])

    @property
    def predicted(self) -> npt.NDArray[np.int64]:
        """Predicted class of each row."""
        return self.probs.argmax(dim=1).numpy().astype(np.int64)

    @property
    def confidence(self) -> npt.NDArray[np.float64]:
        """Probability of the predicted class of each row."""
        return self.probs.max(dim=1).values.double().numpy()

    def positions(self, indices: Sequence[int] | npt.NDArray[np.integer]) -> npt.NDArray[np.int64]:
        """Row positions of the given dataset indices; raises ``KeyError`` naming any index not present."""
        wanted = np.asarray(indices, dtype=np.int64).reshape(-1)
        order = np.argsort(self.indices, kind="stable")
        sorted_idx = self.indices[order]
        pos = np.searchsorted(sorted_idx, wanted)
        pos = np.clip(pos, 0, max(len(sorted_idx) - 1, 0))
        found = (
            (len(sorted_idx) > 0) & (sorted_idx[pos] == wanted)
            if len(sorted_idx)
            else np.zeros_like(wanted, bool)
        )
        if not np.all(found):
            missing = wanted[~found][:10].tolist()
            raise KeyError(f"dataset indices {missing} are not in these predictions")
        return order[pos].astype(np.int64)

    def subset(self, indices: Sequence[int] | npt.NDArray[np.integer]) -> Predictions:
        """The rows of the given dataset indices, in the order given."""
        rows = torch.as_tensor(self.positions(indices))
        return Predictions(
            indices=self.indices[rows.numpy()],
            logits=self.logits[rows],
            probs=self.probs[rows],
            embeddings=None if self.embeddings is None else self.embeddings[rows],
            prob_samples=None if self.prob_samples is None else self.prob_samples[rows],
            text_features=self.text_features,
        )
