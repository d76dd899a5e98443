"""Adapters: the trainable part of a classifier. Importing this package registers the built-in ones."""

from alnb.models.adapters.base import Adapter, AdapterConfig
from alnb.models.adapters.coop import CoOp, CoOpConfig
from alnb.models.adapters.linear import LinearProbe, LinearProbeConfig
from alnb.models.adapters.lora import LoRA, LoRAConfig, resolve_lora_targets
from alnb.models.adapters.vpt import VPT, VPTConfig
from alnb.models.adapters.zeroshot import ZeroShot, ZeroShotConfig

__all__ = [
    "VPT",
    "Adapter",
    "AdapterConfig",
    "CoOp",
    "CoOpConfig",
    "LinearProbe",
    "LinearProbeConfig",
    "LoRA",
    "LoRAConfig",
    "VPTConfig",
    "ZeroShot",
    "ZeroShotConfig",
    "resolve_lora_targets",
]
