"""The interface between a classifier and the Trainer: :class:`Classifier`.

A classifier is a frozen backbone (loaded with ``from_pretrained``) plus one adapter that holds everything
that trains. The Trainer only uses these members of :class:`Classifier`:

- ``class_names``, ``num_classes``: the classes, in logit order;
- ``preprocess(images) -> Tensor``: PIL images → ``pixel_values`` with the model's own image processor;
- ``image_tower_frozen``: True when image features do not depend on trainable parameters;
- ``encode_images(pixel_values) -> [B, d]``: image features (cacheable when ``image_tower_frozen``);
- ``forward(pixel_values= | image_features=) -> [B, C]``: logits from exactly one of the two;
- ``embed(pixel_values= | image_features=) -> [B, d]``: the embedding the head sees
  (``Predictions.embeddings``), and ``classify(embeddings) -> [B, C]``: the head alone;
- ``fingerprint() -> str``: identifies the frozen image path and preprocessing (the feature cache key);
- ``reset_adapter(seed)``: re-initialise the trainable part (C-PEAL retrains every round).

``forward(pixel_values=x)`` equals ``forward(image_features=encode_images(x))``; the Trainer uses the second
form to reuse cached features when the image tower is frozen.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, ClassVar

import torch
from PIL import Image
from torch import nn

from alnb._paths import resolve_model_name
from alnb._validation import check_class_names
from alnb.images import to_rgb
from alnb.models.adapters.base import Adapter, AdapterConfig, seeded_generator
from alnb.models.registry import check_adapter_supports

__all__ = ["ADAPTER_CONFIG_FILE", "Classifier", "check_class_names", "read_adapter_description"]

#: JSON file describing a saved adapter (name, config, classes, base model), checked on load.
ADAPTER_CONFIG_FILE = "alnb_adapter.json"
#: 2 added the base model details, templates, seed, dtype and files; version 1 folders still load.
_FORMAT_VERSION = 2
_REQUIRED_KEYS = ("adapter", "config", "family", "model_type", "class_names", "model")


def read_adapter_description(directory: str | Path) -> dict[str, Any]:
    """The checked content of ``directory/alnb_adapter.json`` (written by :meth:`Classifier.save_adapter`).

    Keys a version-1 file lacks get their defaults (``templates`` None, ``seed`` 0, ``dtype`` float32).

    Raises
    ------
    FileNotFoundError
        When the file is missing.
    ValueError
        When it is not JSON, lacks a required key, or comes from a newer alnb.
    """
    path = Path(directory) / ADAPTER_CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; expected a folder written by save_adapter().")
    try:
        saved = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(
            f"{path} is not valid JSON ({err}); expected a file written by save_adapter()."
        ) from err
    if not isinstance(saved, dict):
        raise ValueError(f"{path} must hold a JSON object, got {type(saved).__name__}.")
    missing = [k for k in _REQUIRED_KEYS if k not in saved]
    if missing:
        raise ValueError(f"{path} lacks the key(s) {missing}; expected a file written by save_adapter().")
    version = saved.get("format_version", 1)
    if not isinstance(version, int) or version > _FORMAT_VERSION:
        raise ValueError(
            f"{path} has format_version {version!r}; this alnb reads versions up to {_FORMAT_VERSION}. "
            "Upgrade alnb to load it."
        )
    saved.setdefault("templates", None)
    saved.setdefault("seed", 0)
    saved.setdefault("dtype", "float32")
    return saved


def _check_seed(seed: Any, name: str = "seed") -> int:
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {seed!r}.")
    return int(seed)


class Classifier(nn.Module, ABC):
    """A frozen backbone plus an adapter; maps images to class logits.

    Build one with :func:`alnb.models.load_classifier`. Subclasses:
    :class:`~alnb.models.VisionLanguageClassifier` (CLIP-like, cosine logits against class text features) and
    :class:`~alnb.models.VisionClassifier` (image backbone plus a linear head).

    Attributes
    ----------
    family : str
        ``"vision_language"`` or ``"vision"``.
    backbone : transformers.PreTrainedModel
        The frozen model (LoRA layers, when used, are injected into it).
    adapter : Adapter
        The trainable part.
    image_processor : transformers image processor
        Used by :meth:`preprocess`.
    model_name : str
        The id or folder it was loaded from.
    seed : int
        Seed of the adapter's initialisation (``reset_adapter()`` without a seed uses it).
    """

    family: ClassVar[str] = ""

    def __init__(
        self,
        backbone: nn.Module,
        image_processor: Any,
        class_names: Sequence[str],
        *,
        model_name: str,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self._class_names = check_class_names(class_names)
        self.model_name = str(model_name)
        self.seed = _check_seed(seed)
        self.image_processor = image_processor
        # Any: each architecture has its own submodules (vision_model, text_model, encoder, ...).
        self.backbone: Any = backbone
        backbone.requires_grad_(False)
        self._cache_version = 0
        self._fingerprint: str | None = None

    def _attach_adapter(self, adapter: Adapter) -> None:
        """Attach ``adapter``, initialised from ``self.seed``; subclasses call it last in ``__init__``."""
        if not isinstance(adapter, Adapter):
            raise ValueError(f"adapter must be an alnb Adapter instance, got {adapter!r}.")
        check_adapter_supports(adapter, self)
        self.adapter = adapter
        self.feature_dropout = nn.Dropout(adapter.config.feature_dropout)
        adapter.attach(self)
        self.reset_adapter(self.seed)
        self.eval()

    # ------------------------------------------------------------------ description

    @property
    def class_names(self) -> tuple[str, ...]:
        """Class names, in logit order."""
        return self._class_names

    @property
    def num_classes(self) -> int:
        return len(self._class_names)

    @property
    def model_type(self) -> str:
        """The backbone's Hugging Face ``model_type`` (``"clip"``, ``"vit"``, ``"dinov2"``, …)."""
        return str(getattr(self.backbone.config, "model_type", type(self.backbone).__name__))

    @property
    def adapter_name(self) -> str:
        return self.adapter.name

    @property
    def adapter_config(self) -> AdapterConfig:
        return self.adapter.config

    @property
    def image_tower_frozen(self) -> bool:
        """True when image features do not depend on trainable parameters (zeroshot, coop, linear, text-only
        LoRA)."""
        return not self.adapter.trains_image_tower(self)

    @property
    def device(self) -> torch.device:
        return next(self.backbone.parameters()).device

    def trainable_parameters(self) -> tuple[int, float]:
        """Number of trainable parameters and their share of all parameters.

        Returns
        -------
        (int, float)
            ``(count, count / total)``.
        """
        total = sum(p.numel() for p in self.parameters())
        count = sum(p.numel() for p in self.parameters() if p.requires_grad)
        return count, (count / total if total else 0.0)

    # ------------------------------------------------------------------ images

    def preprocess(self, images: Sequence[Image.Image] | Image.Image) -> torch.Tensor:
        """Turn images into ``pixel_values`` ``[B, 3, H, W]`` with the model's own image processor.

        PIL images of any mode are made 8-bit RGB first with :func:`alnb.images.to_rgb` (16-bit images min-max
        scaled, EXIF orientation applied, transparency composited on white, first frame of animations).
        """
        if isinstance(images, Image.Image):
            images = [images]
        images = list(images)
        if not images:
            raise ValueError("images must hold at least one image, got an empty list.")
        rgb = [to_rgb(im) if isinstance(im, Image.Image) else im for im in images]
        return self.image_processor(images=rgb, return_tensors="pt")["pixel_values"]

    def tower_prefixes(self, tower: str) -> tuple[str, ...]:
        """Module-path prefixes of a tower (``"vision"`` or ``"text"``) inside :attr:`backbone`."""
        raise ValueError(f"{type(self).__name__} does not say where its {tower!r} tower lies.")

    @abstractmethod
    def backbone_image_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """Image features ``[B, d]`` of the frozen backbone (no adapter)."""

    def encode_images(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """Image features ``[B, d]``, through the adapter when it changes the image tower."""
        if not isinstance(pixel_values, torch.Tensor) or pixel_values.ndim != 4:
            raise ValueError(f"pixel_values must be a tensor shaped [B, 3, H, W], got {pixel_values!r:.80}.")
        return self.adapter.encode_images(self, pixel_values)

    @abstractmethod
    def embed_features(self, image_features: torch.Tensor) -> torch.Tensor:
        """Map image features to the embedding the head sees."""

    @abstractmethod
    def image_tower_state(self) -> dict[str, torch.Tensor]:
        """Tensors of the frozen image path (hashed by :meth:`fingerprint`)."""

    def fingerprint(self) -> str:
        """A hash of the frozen image path (weights), the image processor and the backbone class.

        Two classifiers with the same fingerprint compute the same frozen image features, so the Trainer's
        feature cache can share them. Only meaningful while :attr:`image_tower_frozen` is True.
        """
        if self._fingerprint is None:
            digest = hashlib.sha256()
            digest.update(type(self.backbone).__name__.encode())
            processor = getattr(self.image_processor, "to_json_string", None)
            digest.update((processor() if processor else repr(self.image_processor)).encode())
            for name, tensor in sorted(self.image_tower_state().items()):
                flat = tensor.detach().cpu().contiguous().reshape(-1)
                digest.update(f"{name}:{flat.dtype}:{tuple(tensor.shape)}".encode())
                digest.update(flat.view(torch.uint8).numpy().tobytes())
            self._fingerprint = digest.hexdigest()[:32]
        return self._fingerprint

    # ------------------------------------------------------------------ logits

    @abstractmethod
    def default_classify(self, embeddings: torch.Tensor) -> torch.Tensor:
        """The head without adapter changes."""

    def template_text_features(self) -> torch.Tensor:
        """Class text features from prompt templates (vision-language models only)."""
        raise ValueError(f"{type(self).__name__} has no text tower, so it has no class text features.")

    def classify(self, embeddings: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, C]`` from embeddings ``[B, d]`` (the head alone)."""
        return self.adapter.classify(self, embeddings)

    def _features(
        self, pixel_values: torch.Tensor | None, image_features: torch.Tensor | None
    ) -> torch.Tensor:
        if (pixel_values is None) == (image_features is None):
            raise ValueError("pass exactly one of pixel_values and image_features.")
        if image_features is not None:
            if not isinstance(image_features, torch.Tensor) or image_features.ndim != 2:
                raise ValueError(
                    f"image_features must be a tensor shaped [B, d], got {image_features!r:.80}."
                )
            return image_features
        return self.encode_images(pixel_values)  # type: ignore[arg-type]

    def embed(
        self, pixel_values: torch.Tensor | None = None, image_features: torch.Tensor | None = None
    ) -> torch.Tensor:
        """The image embedding ``[B, d]`` the head sees (returned as ``Predictions.embeddings``)."""
        return self.embed_features(self._features(pixel_values, image_features))

    def forward(
        self, pixel_values: torch.Tensor | None = None, image_features: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Logits ``[B, C]`` from exactly one of ``pixel_values`` or ``image_features`` (see
        :meth:`encode_images`)."""
        return self.classify(self.feature_dropout(self.embed(pixel_values, image_features)))

    # ------------------------------------------------------------------ adapter state

    def reset_head(self, generator: torch.Generator) -> None:
        """Re-initialise a head that belongs to the classifier itself (vision models); nothing by default."""

    def reset_adapter(self, seed: int | None = None) -> None:
        """Re-initialise everything that trains, from ``seed`` (default: the classifier's ``seed``).

        The same seed gives the same initial values on any device; the global RNG is not touched.
        """
        seed = self.seed if seed is None else _check_seed(seed)
        generator = seeded_generator(seed)
        self.reset_head(generator)
        self.adapter.reset_parameters(self, generator)
        self.invalidate_caches()

    def invalidate_caches(self) -> None:
        """Drop cached text features (called on mode switches, resets and loads)."""
        self._cache_version += 1

    def train(self, mode: bool = True) -> Classifier:
        self.invalidate_caches()
        return super().train(mode)

    @property
    def backbone_dtype(self) -> torch.dtype:
        """dtype of the backbone's frozen weights (``torch.float32`` unless loaded with ``torch_dtype=...``)."""
        # Frozen ones only: LoRA weights injected into the backbone stay float32.
        return next((p.dtype for p in self.backbone.parameters() if not p.requires_grad), torch.float32)

    def _describe(self) -> dict[str, Any]:
        """The content of ``alnb_adapter.json`` (see :meth:`save_adapter`)."""
        from alnb.embedded import DEFAULT_MODEL

        model = resolve_model_name(self.model_name)
        commit = getattr(self.backbone.config, "_commit_hash", None)
        templates = getattr(self, "templates", None)
        return {
            "format_version": _FORMAT_VERSION,
            "adapter": self.adapter_name,
            "config": json.loads(json.dumps(asdict(self.adapter_config))),
            "family": self.family,
            "model_type": self.model_type,
            "class_names": list(self.class_names),
            "model": model,
            "embedded_model": bool(model) and model == resolve_model_name(DEFAULT_MODEL),
            "model_class": type(self.backbone).__name__,
            "model_revision": commit if isinstance(commit, str) else None,
            "templates": None if templates is None else list(templates),
            "seed": self.seed,
            "dtype": str(self.backbone_dtype).removeprefix("torch."),
            "files": self.adapter.saved_files(self),
        }

    def save_adapter(self, directory: str | Path) -> Path:
        """Save the trained state and a JSON description to ``directory``; ``load_classifier(directory)`` rebuilds
        the classifier from the folder alone.

        Files (the format is described in ``docs/adapter-format.md``):

        - ``alnb_adapter.json``: ``format_version`` (2), ``adapter`` (registry name), ``config`` (the adapter's
          options), ``family``, ``model_type``, ``class_names`` (in logit order), ``model`` (the base model: a
          Hugging Face id, or the absolute path of a local folder), ``embedded_model`` (True for alnb's shipped
          tiny CLIP, found again in any installation), ``model_class`` (e.g. ``"CLIPModel"``),
          ``model_revision`` (the hub commit when known), ``templates`` (vision-language models, else null),
          ``seed``, ``dtype`` of the backbone, ``files`` (the weight files written);
        - ``adapter.safetensors``: the adapter's own trainable tensors by parameter name (CoOp ``adapter.ctx``, VPT
          ``adapter.prompts`` / ``adapter.deep_prompts``, linear ``adapter.probe.*``, a vision model's ``head.*``;
          empty for zero-shot);
        - LoRA only, exactly what ``peft.PeftModel.save_pretrained`` writes: ``adapter_model.safetensors`` and
          ``adapter_config.json``.

        Returns
        -------
        Path
            The folder written.
        """
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.adapter.save(self, directory)
        (directory / ADAPTER_CONFIG_FILE).write_text(json.dumps(self._describe(), indent=2) + "\n")
        return directory

    def load_adapter(self, directory: str | Path) -> Classifier:
        """Load what :meth:`save_adapter` wrote; the adapter, its config, the model type and classes must
        match.

        Returns
        -------
        Classifier
            ``self``.
        """
        directory = Path(directory)
        saved = read_adapter_description(directory)
        mine = self._describe()
        keys = ("adapter", "config", "family", "model_type", "class_names")
        mismatches = [
            f"{k}: saved {saved.get(k)!r}, this classifier {mine[k]!r}"
            for k in keys
            if saved.get(k) != mine[k]
        ]
        if mismatches:
            raise ValueError(
                f"the adapter in {directory} does not match this classifier: " + "; ".join(mismatches)
            )
        self.adapter.load(self, directory)
        self.invalidate_caches()
        return self

    def extra_repr(self) -> str:
        count, share = self.trainable_parameters()
        return (
            f"model={self.model_name!r}, classes={self.num_classes}, adapter={self.adapter_name!r}, "
            f"trainable={count} ({share:.3%})"
        )
