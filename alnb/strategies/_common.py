"""Numeric helpers shared by several strategies (private)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.special import xlogy

from alnb.predictions import Predictions
from alnb.strategies.base import IntArray, QueryContext, positions_of

__all__ = ["embeddings_of", "entropy", "labeled_rows", "probs_of"]


def probs_of(predictions: Predictions) -> npt.NDArray[np.float64]:
    """``predictions.probs`` as a float64 array ``[N, C]``."""
    return np.asarray(predictions.probs.detach().cpu().numpy(), dtype=np.float64)


def embeddings_of(
    predictions: Predictions, strategy: str, rows: IntArray | None = None
) -> npt.NDArray[np.float64]:
    """``predictions.embeddings`` (the given ``rows`` only, when given) as a float64 array ``[n, d]``.

    Raises a ``ValueError`` naming the strategy when the embeddings are missing.
    """
    if predictions.embeddings is None:
        raise ValueError(
            f"strategy {strategy!r} needs predictions.embeddings, but it is None; compute embeddings "
            "when predicting."
        )
    emb = predictions.embeddings.detach().cpu()
    if emb.ndim != 2:
        raise ValueError(f"predictions.embeddings must be shaped [N, d], got {tuple(emb.shape)}.")
    # Gather before converting, so only the selected rows are ever copied to float64.
    array = emb.numpy()
    if rows is not None:
        array = array[rows]
    return np.asarray(array, dtype=np.float64)


def entropy(probs: npt.NDArray[np.float64], axis: int = -1) -> npt.NDArray[np.float64]:
    """Shannon entropy in nats, ``-sum p ln p`` with ``0 ln 0 = 0``."""
    return -xlogy(probs, probs).sum(axis=axis)


def labeled_rows(predictions: Predictions, context: QueryContext, strategy: str) -> IntArray:
    """Rows of ``predictions`` holding ``context.labeled``; ``ValueError`` when some are missing."""
    return positions_of(
        predictions, context.labeled, f"context.labeled (strategy {strategy!r} needs their embeddings)"
    )
