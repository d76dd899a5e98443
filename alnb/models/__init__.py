"""Classifiers and adapters: ``load_classifier(model, class_names, adapter=...)``.

A classifier is a frozen Hugging Face backbone plus one adapter that holds everything that trains:

========== ====================================== =================================================
adapter    trains                                 models
========== ====================================== =================================================
zeroshot   nothing (template prompts)             CLIP-like
coop       text context vectors                   CLIP
vpt        prompt tokens in the image tower       CLIP, ViT, DINOv2
lora       low-rank updates of q, k, v (peft)     CLIP-like (either or both towers), image models
linear     a linear probe on frozen features      all
========== ====================================== =================================================
"""

from alnb.models import adapters  # noqa: F401  (registers the built-in adapters)
from alnb.models.adapters import (
    VPT,
    Adapter,
    AdapterConfig,
    CoOp,
    CoOpConfig,
    LinearProbe,
    LinearProbeConfig,
    LoRA,
    LoRAConfig,
    VPTConfig,
    ZeroShot,
    ZeroShotConfig,
)
from alnb.models.base import Classifier, check_class_names
from alnb.models.loading import ModelNotAvailableError, load_classifier
from alnb.models.registry import adapter_class, available_adapters, make_adapter_config, register_adapter
from alnb.models.text import DEFAULT_TEMPLATES
from alnb.models.vision import VisionClassifier
from alnb.models.vision_language import VisionLanguageClassifier

__all__ = [
    "DEFAULT_TEMPLATES",
    "VPT",
    "Adapter",
    "AdapterConfig",
    "Classifier",
    "CoOp",
    "CoOpConfig",
    "LinearProbe",
    "LinearProbeConfig",
    "LoRA",
    "LoRAConfig",
    "ModelNotAvailableError",
    "VPTConfig",
    "VisionClassifier",
    "VisionLanguageClassifier",
    "ZeroShot",
    "ZeroShotConfig",
    "adapter_class",
    "available_adapters",
    "check_class_names",
    "load_classifier",
    "make_adapter_config",
    "register_adapter",
]
