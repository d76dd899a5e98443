"""What every adapter is: a dataclass config plus an ``nn.Module`` that hooks into a classifier.

An adapter owns the trainable part of a :class:`~alnb.models.Classifier`. It may

- add parameters of its own (CoOp context vectors, VPT prompt tokens, a linear probe),
- inject layers into the frozen backbone (LoRA through peft),
- and override any of three hooks the classifier calls: :meth:`Adapter.encode_images` (image tower),
  :meth:`Adapter.class_text_features` (text side of a vision-language model) and :meth:`Adapter.classify`
  (the head). The defaults call the classifier's own frozen path, so a hook is overridden only where the
  adapter changes something.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, cast

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from alnb._validation import check_fraction

if TYPE_CHECKING:
    from alnb.models.base import Classifier
    from alnb.models.vision_language import VisionLanguageClassifier

__all__ = ["FAMILIES", "Adapter", "AdapterConfig", "as_vision_language", "kaiming_uniform_", "seeded_generator"]

#: Model families: CLIP-like models with an image and a text tower, and image-only backbones.
FAMILIES: tuple[str, ...] = ("vision_language", "vision")

#: File holding the adapter's plain (non-peft) trainable tensors.
STATE_FILE = "adapter.safetensors"


@dataclass
class AdapterConfig:
    """Options shared by every adapter.

    Parameters
    ----------
    feature_dropout : float
        Dropout on the image embedding right before the head. 0 (default) changes nothing; a value > 0 also
        makes ``Trainer.predict(..., mc_samples=K)`` (MC dropout) possible for adapters without dropout of
        their own.
    """

    feature_dropout: float = 0.0

    def __post_init__(self) -> None:
        check_fraction(self.feature_dropout, "feature_dropout")
        if self.feature_dropout >= 1:
            raise ValueError(f"feature_dropout must lie in [0, 1), got {self.feature_dropout!r}.")

    @classmethod
    def field_names(cls) -> list[str]:
        """Names of the options this config accepts."""
        return [f.name for f in fields(cls)]


def seeded_generator(seed: int) -> torch.Generator:
    """A CPU generator seeded with ``seed``: adapters draw their initial values from it, then copy them to the
    parameters' device, so an initialisation is the same on every device and leaves the global RNG alone."""
    generator = torch.Generator(device="cpu")
    generator.manual_seed(int(seed))
    return generator


def kaiming_uniform_(tensor: torch.Tensor, generator: torch.Generator, a: float = math.sqrt(5)) -> None:
    """In-place ``nn.init.kaiming_uniform_`` (the ``nn.Linear`` default, ``a=√5``) drawn from ``generator`` on
    the CPU."""
    values = torch.empty(tensor.shape, dtype=torch.float32)
    nn.init.kaiming_uniform_(values, a=a, generator=generator)
    with torch.no_grad():
        tensor.copy_(values)


class Adapter(nn.Module):
    """Base class of the adapters; a subclass is registered with :func:`~alnb.models.register_adapter`.

    Trainable tensors are float32 whatever the backbone's dtype (a bf16 backbone keeps float32 adapter weights,
    as peft does), and are cast to the backbone's dtype where they meet its activations.

    Class attributes
    ----------------
    name : str
        Registry name (set by ``register_adapter``).
    config_class : type[AdapterConfig]
        The adapter's options.
    families : frozenset of str
        Model families it supports (``"vision_language"``, ``"vision"``).
    model_types : frozenset of str or None
        Hugging Face ``model_type`` values it supports; ``None`` means any model of a supported family.
    """

    name: ClassVar[str] = ""
    config_class: ClassVar[type[AdapterConfig]] = AdapterConfig
    families: ClassVar[frozenset[str]] = frozenset(FAMILIES)
    model_types: ClassVar[frozenset[str] | None] = None

    def __init__(self, config: AdapterConfig) -> None:
        super().__init__()
        if not isinstance(config, self.config_class):
            raise ValueError(
                f"config must be a {self.config_class.__name__} for adapter {self.name!r}, got {config!r}."
            )
        self.config = config

    # ------------------------------------------------------------------ what it trains

    def trains_image_tower(self, classifier: Classifier) -> bool:
        """Whether image features depend on trainable parameters (then they cannot be cached)."""
        return False

    def trains_text(self, classifier: Classifier) -> bool:
        """Whether the class text features depend on trainable parameters."""
        return False

    # ------------------------------------------------------------------ life cycle

    @classmethod
    def supports(cls, family: str | None, model_type: str | None = None) -> bool:
        """Whether this adapter works on a model of ``family`` (``"vision_language"`` / ``"vision"``) and Hugging
        Face ``model_type``; ``None`` for either means "any". The one place that decides it: the registry's
        :func:`~alnb.models.available_adapters` and the classifier's check both read it.

        Examples
        --------
        >>> from alnb.models import CoOp, LinearProbe
        >>> CoOp.supports("vision_language", "clip"), CoOp.supports("vision", "vit")
        (True, False)
        >>> LinearProbe.supports("vision")
        True
        """
        if family is not None and family not in cls.families:
            return False
        return model_type is None or cls.model_types is None or model_type in cls.model_types

    def attach(self, classifier: Classifier) -> None:
        """Create parameters or inject layers (called once, after the backbone is frozen)."""

    def reset_parameters(self, classifier: Classifier, generator: torch.Generator) -> None:
        """Re-initialise every trainable tensor of the adapter from ``generator``."""

    # ------------------------------------------------------------------ hooks (defaults: the frozen path)

    def encode_images(self, classifier: Classifier, pixel_values: torch.Tensor) -> torch.Tensor:
        """Image features ``[B, d]`` of preprocessed images."""
        return classifier.backbone_image_features(pixel_values)

    def class_text_features(self, classifier: Classifier) -> torch.Tensor:
        """Unnormalised class text features ``[C, d]`` (vision-language models only)."""
        return classifier.template_text_features()

    def classify(self, classifier: Classifier, embeddings: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, C]`` from image embeddings."""
        return classifier.default_classify(embeddings)

    # ------------------------------------------------------------------ persistence

    def plain_state(self, classifier: Classifier) -> dict[str, torch.Tensor]:
        """Trainable tensors saved to ``adapter.safetensors``, by the classifier's parameter names."""
        return {name: p for name, p in classifier.named_parameters() if p.requires_grad}

    def saved_files(self, classifier: Classifier) -> list[str]:
        """Names of the weight files :meth:`save` writes (recorded in ``alnb_adapter.json``)."""
        return [STATE_FILE]

    def save(self, classifier: Classifier, directory: Path) -> None:
        """Write the trained state into ``directory`` (which exists)."""
        state = {name: t.detach().cpu().contiguous() for name, t in self.plain_state(classifier).items()}
        save_file(state, str(directory / STATE_FILE))

    def load(self, classifier: Classifier, directory: Path) -> None:
        """Read what :meth:`save` wrote; names and shapes must match exactly."""
        expected = self.plain_state(classifier)
        path = directory / STATE_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{path} is missing; was this folder written by save_adapter()?")
        stored = load_file(str(path))
        _check_same_tensors(expected, stored, path)
        with torch.no_grad():
            for name, tensor in expected.items():
                tensor.copy_(stored[name].to(tensor.device, tensor.dtype))

    def extra_repr(self) -> str:
        return repr(self.config)


def _check_same_tensors(expected: dict[str, Any], stored: dict[str, torch.Tensor], path: Path) -> None:
    missing = sorted(set(expected) - set(stored))
    unexpected = sorted(set(stored) - set(expected))
    if missing or unexpected:
        raise ValueError(
            f"{path} does not fit this classifier: missing tensors {missing[:5]}, unexpected tensors "
            f"{unexpected[:5]}."
        )
    for name, tensor in expected.items():
        if tuple(stored[name].shape) != tuple(tensor.shape):
            raise ValueError(
                f"{path}: tensor {name!r} has shape {tuple(stored[name].shape)}, "
                f"expected {tuple(tensor.shape)}."
            )


def as_vision_language(classifier: Classifier, needed_by: str) -> VisionLanguageClassifier:
    """``classifier`` as a vision-language classifier (text tower, tokenizer), for code that needs one.

    >>> as_vision_language(object(), "adapter 'coop'")
    Traceback (most recent call last):
    ...
    ValueError: adapter 'coop' needs a vision-language classifier (family 'vision_language'), got family None.
    """
    family = getattr(classifier, "family", None)
    if family != "vision_language":
        raise ValueError(
            f"{needed_by} needs a vision-language classifier (family 'vision_language'), got family {family!r}."
        )
    return cast("VisionLanguageClassifier", classifier)
