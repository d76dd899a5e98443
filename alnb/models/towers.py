"""The image tower of a backbone split into its stages, so tokens can be inserted between them (VPT).

Running the stages in order without changes reproduces the classifier's frozen image features; this is tested
for every supported ``model_type``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    from alnb.models.base import Classifier

__all__ = ["TOWER_MODEL_TYPES", "VisionTower", "vision_tower"]

#: ``model_type`` values whose image tower can be split.
TOWER_MODEL_TYPES: frozenset[str] = frozenset({"clip", "vit", "dinov2"})


@dataclass
class VisionTower:
    """Stages of a ViT-style image tower.

    Attributes
    ----------
    embeddings : nn.Module
        ``pixel_values → tokens [B, 1 + P, D]`` (class token first, position embeddings added).
    pre : callable
        Applied to the token sequence before the first layer (CLIP's ``pre_layrnorm``; identity otherwise).
    layers : nn.ModuleList
        Transformer layers; each maps ``[B, N, D] → [B, N, D]``.
    post : callable
        ``[B, N, D] → features [B, d]`` (final norm on the class token, plus CLIP's projection).
    width : int
        Token width D.
    patch_size : int or None
        Patch side in pixels (for VPT's initialisation range).
    """

    embeddings: nn.Module
    pre: Callable[[torch.Tensor], torch.Tensor]
    layers: nn.ModuleList
    post: Callable[[torch.Tensor], torch.Tensor]
    width: int
    patch_size: int | None

    def embed(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """Token sequence after the embeddings, before ``pre`` (where VPT inserts its prompts)."""
        dtype = next(self.embeddings.parameters()).dtype
        return self.embeddings(pixel_values.to(dtype))

    @staticmethod
    def run_layer(layer: nn.Module, hidden: torch.Tensor) -> torch.Tensor:
        # transformers 5 layers return a tensor, transformers 4 layers a tuple.
        out = layer(hidden, None)
        return out[0] if isinstance(out, tuple) else out

    def __call__(self, pixel_values: torch.Tensor) -> torch.Tensor:
        hidden = self.pre(self.embed(pixel_values))
        for layer in self.layers:
            hidden = self.run_layer(layer, hidden)
        return self.post(hidden)


def _first_module_list(model: nn.Module, paths: tuple[str, ...]) -> nn.ModuleList:
    for path in paths:
        module: nn.Module | None = model
        for part in path.split("."):
            module = getattr(module, part, None)
        if isinstance(module, nn.ModuleList):
            return module
    raise ValueError(f"cannot find the transformer layers of {type(model).__name__} (looked for {paths}).")


def vision_tower(classifier: Classifier) -> VisionTower:
    """Split ``classifier``'s image tower into stages; ``ValueError`` for an unsupported ``model_type``."""
    backbone = classifier.backbone
    model_type = classifier.model_type
    if classifier.family == "vision_language" and model_type == "clip":
        vm = backbone.vision_model
        config = backbone.config.vision_config

        def clip_post(hidden: torch.Tensor) -> torch.Tensor:
            return backbone.visual_projection(vm.post_layernorm(hidden[:, 0]))

        return VisionTower(
            vm.embeddings,
            vm.pre_layrnorm,
            vm.encoder.layers,
            clip_post,
            config.hidden_size,
            config.patch_size,
        )
    if classifier.family == "vision" and model_type in ("vit", "dinov2"):
        layers = _first_module_list(backbone, ("layers", "encoder.layer", "encoder.layers"))
        norm = backbone.layernorm

        def cls_post(hidden: torch.Tensor) -> torch.Tensor:
            return norm(hidden[:, 0])

        config = backbone.config
        return VisionTower(
            backbone.embeddings,
            nn.Identity(),
            layers,
            cls_post,
            config.hidden_size,
            getattr(config, "patch_size", None),
        )
    raise ValueError(
        f"cannot split the image tower of model_type {model_type!r}; supported: {sorted(TOWER_MODEL_TYPES)}."
    )
