"""Helpers shared by the loss files."""

from __future__ import annotations

from typing import Any

import torch

from alnb._validation import check_labels, check_logits

__all__ = ["check_loss_inputs", "softmax_entropy"]


def check_loss_inputs(logits: Any, labels: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate logits ``[N, C]`` and labels ``[N]`` in ``[0, C)``; labels come back as int64 tensors."""
    logits = check_logits(logits)
    y = check_labels(labels, logits.shape[0], logits.shape[1])
    return logits, y.to(logits.device)


def softmax_entropy(probs: torch.Tensor, eps: float) -> torch.Tensor:
    r"""Entropy in nats with a stabilising constant, :math:`H_i = -\sum_c p_{ic}\ln(p_{ic} + \epsilon)`."""
    return -(probs * torch.log(probs + eps)).sum(dim=1)
