"""Zero-shot CLIP: class text features from prompt templates, nothing trains."""

from __future__ import annotations

from dataclasses import dataclass

from alnb.models.adapters.base import Adapter, AdapterConfig
from alnb.models.registry import register_adapter

__all__ = ["ZeroShot", "ZeroShotConfig"]


@dataclass
class ZeroShotConfig(AdapterConfig):
    """Zero-shot has no options besides ``feature_dropout`` (templates are an argument of
    ``load_classifier``)."""


@register_adapter("zeroshot", ZeroShotConfig)
class ZeroShot(Adapter):
    """Nothing trains: logits are the scaled cosine similarities to the template text features.

    ``Trainer.fit`` on such a classifier returns at once (there is nothing to optimise).
    """

    families = frozenset({"vision_language"})
