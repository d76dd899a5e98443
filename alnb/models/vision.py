"""Image-only backbones (ViT, DINOv2, any ``AutoModel`` with a hidden size) with a linear head."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from alnb.models.adapters.base import Adapter, kaiming_uniform_
from alnb.models.base import Classifier

__all__ = ["VisionClassifier", "feature_size"]


def feature_size(config: Any) -> int:
    """Width of the backbone's pooled features, from its config (``hidden_size`` or the last
    ``hidden_sizes``)."""
    size = getattr(config, "hidden_size", None)
    if size is None and getattr(config, "hidden_sizes", None):
        size = config.hidden_sizes[-1]
    if not isinstance(size, int) or size < 1:
        raise ValueError(
            f"cannot tell the feature width of model_type {getattr(config, 'model_type', '?')!r}: its "
            "config has neither hidden_size nor hidden_sizes."
        )
    return size


class VisionClassifier(Classifier):
    """An image backbone with a linear head on its class-token (or pooled) features.

    Features are ``last_hidden_state[:, 0]`` (the class token after the final norm) for transformers, and the
    flattened ``pooler_output`` for backbones without a token sequence. The head is an ``nn.Linear`` with
    PyTorch's default initialisation (drawn from the adapter seed) and always trains; the adapter decides what
    else does (``linear``: nothing, ``lora``: LoRA on attention, ``vpt``: prompt tokens).

    Parameters
    ----------
    backbone : PreTrainedModel
        Loaded with ``AutoModel.from_pretrained``; frozen here.
    image_processor : image processor
        The model's image processor.
    class_names : sequence of str
        Unique class names.
    adapter : Adapter
        The trainable part besides the head.
    model_name : str
        Where the model came from.
    seed : int
        Seed of the head's and the adapter's initialisation.
    """

    family = "vision"

    def __init__(
        self,
        backbone: nn.Module,
        image_processor: Any,
        class_names: Sequence[str],
        adapter: Adapter,
        *,
        model_name: str = "",
        seed: int = 0,
    ) -> None:
        super().__init__(backbone, image_processor, class_names, model_name=model_name, seed=seed)
        self.head = nn.Linear(feature_size(backbone.config), self.num_classes)
        self._attach_adapter(adapter)

    def tower_prefixes(self, tower: str) -> tuple[str, ...]:
        """Module-path prefixes of a tower inside :attr:`backbone`: the whole model is the vision tower."""
        if tower != "vision":
            raise ValueError(f"a vision-only model has no {tower!r} tower; use 'vision'.")
        return ("",)

    def image_tower_state(self) -> dict[str, torch.Tensor]:
        return dict(self.backbone.named_parameters())

    def backbone_image_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        output = self.backbone(pixel_values=pixel_values.to(self.backbone_dtype))
        hidden = getattr(output, "last_hidden_state", None)
        if hidden is not None and hidden.ndim == 3:
            return hidden[:, 0]
        pooled = getattr(output, "pooler_output", None)
        if pooled is None:
            raise ValueError(
                f"{type(self.backbone).__name__} returns neither a token sequence nor a pooled output."
            )
        return pooled.flatten(1)

    def embed_features(self, image_features: torch.Tensor) -> torch.Tensor:
        """The features themselves in float32 (the head is linear on them)."""
        return image_features.float()

    def default_classify(self, embeddings: torch.Tensor) -> torch.Tensor:
        return self.head(embeddings.to(self.head.weight.dtype))

    def reset_head(self, generator: torch.Generator) -> None:
        """``nn.Linear``'s default initialisation, drawn from ``generator``."""
        kaiming_uniform_(self.head.weight, generator)
        bound = 1 / math.sqrt(self.head.in_features)
        values = torch.rand(self.head.out_features, generator=generator) * 2 * bound - bound
        with torch.no_grad():
            self.head.bias.copy_(values)
