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

``classifier.save_adapter(folder)`` writes safetensors plus ``alnb_adapter.json`` (LoRA also in peft's own format);
``load_classifier(folder)`` rebuilds the same classifier from that folder alone (``docs/adapter-format.md``).
``load_classifier(..., torch_dtype=torch.bfloat16, device_map="auto")`` holds a large backbone in bf16 on the best
device present (:func:`default_device`).
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
from alnb.models.devices import default_device
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
    "default_device",
    "load_classifier",
    "make_adapter_config",
    "register_adapter",
]
