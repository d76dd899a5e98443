"""VPT: learnable prompt tokens in the image tower (Jia et al., 2022), shallow or deep."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

from alnb._validation import check_positive_int
from alnb.models.adapters.base import Adapter, AdapterConfig
from alnb.models.registry import register_adapter
from alnb.models.towers import TOWER_MODEL_TYPES, VisionTower, vision_tower

if TYPE_CHECKING:
    from alnb.models.base import Classifier

__all__ = ["VPT", "VPTConfig"]


@dataclass
class VPTConfig(AdapterConfig):
    """Options of visual prompt tuning.

    Parameters
    ----------
    n_prompts : int
        Prompt tokens inserted after the class token.
    deep : bool
        False (default): shallow VPT, prompts enter once after the embeddings. True: every layer after the
        first replaces the prompt tokens with its own new ones (VPT-deep).
    """

    n_prompts: int = 8
    deep: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive_int(self.n_prompts, "n_prompts")
        if not isinstance(self.deep, bool):
            raise ValueError(f"deep must be True or False, got {self.deep!r}.")


@register_adapter("vpt", VPTConfig)
class VPT(Adapter):
    r"""Prompt tokens ``[n_prompts, D]`` inserted between the class token and the patch tokens of the image
    tower.

    They get no position embedding (as in VPT). Initialisation is uniform in :math:`\pm\sqrt{6 / (3p^2 + D)}`
    with :math:`p` the patch side (VPT's Xavier-style range). The text side of CLIP stays on the fixed
    templates. Supported image towers: CLIP, ViT, DINOv2.
    """

    model_types = TOWER_MODEL_TYPES

    def trains_image_tower(self, classifier: Classifier) -> bool:
        return True

    def _tower(self, classifier: Classifier) -> VisionTower:
        return vision_tower(classifier)

    def attach(self, classifier: Classifier) -> None:
        tower = self._tower(classifier)
        config: VPTConfig = self.config  # type: ignore[assignment]
        dtype = torch.float32  # trainable tensors stay float32 on a bf16 / fp16 backbone
        device = next(tower.embeddings.parameters()).device
        self.prompts = nn.Parameter(torch.zeros(config.n_prompts, tower.width, dtype=dtype, device=device))
        deep_layers = len(tower.layers) - 1 if config.deep else 0
        self.deep_prompts = nn.Parameter(
            torch.zeros(deep_layers, config.n_prompts, tower.width, dtype=dtype, device=device),
            requires_grad=deep_layers > 0,
        )
        patch = tower.patch_size or 1
        self._bound = math.sqrt(6.0 / (3 * patch * patch + tower.width))

    def reset_parameters(self, classifier: Classifier, generator: torch.Generator) -> None:
        with torch.no_grad():
            for param in (self.prompts, self.deep_prompts):
                values = (torch.rand(param.shape, generator=generator) * 2 - 1) * self._bound
                param.copy_(values)

    def encode_images(self, classifier: Classifier, pixel_values: torch.Tensor) -> torch.Tensor:
        tower = self._tower(classifier)
        n = self.prompts.shape[0]
        hidden = tower.embed(pixel_values)
        prompts = self.prompts.to(hidden.dtype).unsqueeze(0).expand(hidden.shape[0], -1, -1)
        # Before CLIP's pre-layernorm, so the prompts are normalised like the other tokens (as in MaPLe).
        hidden = tower.pre(torch.cat([hidden[:, :1], prompts, hidden[:, 1:]], dim=1))
        for i, layer in enumerate(tower.layers):
            if i > 0 and self.deep_prompts.shape[0]:
                deep = self.deep_prompts[i - 1].to(hidden.dtype).unsqueeze(0).expand(hidden.shape[0], -1, -1)
                hidden = torch.cat([hidden[:, :1], deep, hidden[:, 1 + n :]], dim=1)
            hidden = tower.run_layer(layer, hidden)
        return tower.post(hidden)
