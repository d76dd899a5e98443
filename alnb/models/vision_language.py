"""CLIP-like classifiers: logits are scaled cosine similarities between image and class text features."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from alnb.models.adapters.base import Adapter
from alnb.models.base import Classifier
from alnb.models.text import check_templates, eos_positions, pooled

__all__ = ["MAX_LOGIT_SCALE", "VISION_LANGUAGE_TYPES", "VisionLanguageClassifier"]

#: ``model_type`` values loaded as vision-language models.
VISION_LANGUAGE_TYPES: tuple[str, ...] = ("clip", "siglip")

#: CLIP clamps its temperature at 100.
MAX_LOGIT_SCALE = 100.0

_TOWERS = {"vision": ("vision_model.", "visual_projection."), "text": ("text_model.", "text_projection.")}


class VisionLanguageClassifier(Classifier):
    r"""A CLIP-like model used as a classifier.

    .. math:: z_{ic} = \tau\,\cos(f(x_i), t_c) + b

    with :math:`f` the image features, :math:`t_c` the class text features, and the model's own temperature and
    bias: for CLIP :math:`\tau = \min(e^{s}, 100)` (CLIP clamps its ``logit_scale`` at 100) and :math:`b = 0`;
    for SigLIP :math:`\tau = e^{s}` unclamped and :math:`b` its learned ``logit_bias``, so the logits equal
    ``SiglipModel(...).logits_per_image``. Without a learned prompt, :math:`t_c` is the normalised mean of the
    normalised features of ``template.format(name)`` over the templates (CLIP's prompt ensembling).

    Probabilities: alnb's active learning is single-label, so probabilities are the softmax over the class
    logits, for SigLIP too. SigLIP was trained with a per-pair sigmoid, :math:`\sigma(z_{ic})` ("does caption
    :math:`c` match?"), which does not sum to one over classes; the softmax keeps the ranking of the classes
    and is invariant to :math:`b`, which therefore only shifts the logits (``Predictions.logits``). Apply
    ``torch.sigmoid`` to the logits for SigLIP's own per-class match probabilities.

    Parameters
    ----------
    backbone : CLIPModel or SiglipModel
        Loaded with ``from_pretrained``; frozen here.
    tokenizer : tokenizer
        The model's tokenizer.
    image_processor : image processor
        The model's image processor.
    class_names : sequence of str
        Unique class names.
    adapter : Adapter
        The trainable part (see :func:`~alnb.models.available_adapters`).
    templates : sequence of str, optional
        Prompt templates with one ``{}``; default ``("a photo of a {}.",)``.
    model_name : str
        Where the model came from (for messages and the saved adapter description).
    seed : int
        Seed of the adapter's initialisation.

    Examples
    --------
    >>> from alnb.models import load_classifier
    >>> clf = load_classifier(class_names=["circle", "square"], adapter="zeroshot")  # doctest: +SKIP
    >>> clf(pixel_values=clf.preprocess(images)).shape  # doctest: +SKIP
    torch.Size([len(images), 2])
    """

    family = "vision_language"

    def __init__(
        self,
        backbone: nn.Module,
        tokenizer: Any,
        image_processor: Any,
        class_names: Sequence[str],
        adapter: Adapter,
        *,
        templates: Sequence[str] | None = None,
        model_name: str = "",
        seed: int = 0,
    ) -> None:
        super().__init__(backbone, image_processor, class_names, model_name=model_name, seed=seed)
        self.tokenizer = tokenizer
        self.templates = check_templates(templates)
        self._text_cache: tuple[tuple[int, torch.device], torch.Tensor] | None = None
        self._attach_adapter(adapter)

    # ------------------------------------------------------------------ towers

    def tower_prefixes(self, tower: str) -> tuple[str, ...]:
        """Module-path prefixes of a tower (``"vision"`` or ``"text"``) inside :attr:`backbone`."""
        return _TOWERS[tower]

    def image_tower_state(self) -> dict[str, torch.Tensor]:
        prefixes = _TOWERS["vision"]
        return {n: p for n, p in self.backbone.named_parameters() if n.startswith(prefixes)}

    @property
    def logit_scale(self) -> torch.Tensor:
        """The model's own temperature: :math:`e^{s}`, clamped at 100 for CLIP (as CLIP is), not for SigLIP."""
        scale = self.backbone.logit_scale.float().exp()
        return scale if self.model_type == "siglip" else scale.clamp(max=MAX_LOGIT_SCALE)

    @property
    def logit_bias(self) -> torch.Tensor:
        """The model's own logit bias (SigLIP's learned ``logit_bias``; 0 for CLIP)."""
        bias = getattr(self.backbone, "logit_bias", None)
        if bias is None:
            return torch.zeros((), device=self.device)
        return bias.float().reshape(())

    def scale_logits(self, cosines: torch.Tensor) -> torch.Tensor:
        """Cosine similarities ``[B, C]`` → logits: ``logit_scale * cosines + logit_bias``."""
        return self.logit_scale.to(cosines.dtype) * cosines + self.logit_bias.to(cosines.dtype)

    @property
    def context_length(self) -> int:
        """Token positions of the text model."""
        return int(self.backbone.config.text_config.max_position_embeddings)

    # ------------------------------------------------------------------ text

    def tokenize(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        """Token ids and attention mask for ``texts`` on the model's device."""
        siglip = self.model_type.startswith("siglip")
        # SigLIP was trained on prompts padded to full length, and reads the last position.
        encoded = self.tokenizer(
            list(texts),
            padding="max_length" if siglip else "longest",
            max_length=self.context_length,
            truncation=True,
            return_tensors="pt",
        )
        ids = encoded["input_ids"].to(self.device)
        if siglip:
            return {"input_ids": ids}
        eos_positions(ids, int(self.backbone.config.text_config.eos_token_id))  # raises on truncated prompts
        return {"input_ids": ids, "attention_mask": encoded["attention_mask"].to(self.device)}

    def encode_texts(self, texts: Sequence[str]) -> torch.Tensor:
        """Projected text features ``[N, d]`` of ``texts`` (unnormalised)."""
        return pooled(self.backbone.get_text_features(**self.tokenize(texts)))

    def template_text_features(self) -> torch.Tensor:
        """Class text features ``[C, d]`` from the templates: the normalised mean of normalised features."""
        prompts = [template.format(name) for name in self.class_names for template in self.templates]
        features = self.encode_texts(prompts).view(self.num_classes, len(self.templates), -1)
        return F.normalize(F.normalize(features, dim=-1).mean(dim=1), dim=-1)

    def class_text_features(self) -> torch.Tensor:
        """Class text features ``[C, d]`` from the adapter (learned prompts) or the templates.

        They are computed once and reused while they cannot change (frozen text side, or eval mode without
        grad); switching train/eval mode, resetting or loading the adapter recomputes them.
        """
        if self.adapter.trains_text(self) and (self.training or torch.is_grad_enabled()):
            return self.adapter.class_text_features(self)
        key = (self._cache_version, self.device)
        if self._text_cache is None or self._text_cache[0] != key:
            with torch.no_grad():
                self._text_cache = (key, self.adapter.class_text_features(self))
        return self._text_cache[1]

    # ------------------------------------------------------------------ images and logits

    def backbone_image_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        pixel_values = pixel_values.to(self.backbone_dtype)
        return pooled(self.backbone.get_image_features(pixel_values=pixel_values))

    def embed_features(self, image_features: torch.Tensor) -> torch.Tensor:
        """L2-normalised image features in float32 (cosine similarity is a dot product of these)."""
        return F.normalize(image_features.float(), dim=-1)

    def default_classify(self, embeddings: torch.Tensor) -> torch.Tensor:
        text = F.normalize(self.class_text_features().float(), dim=-1).to(embeddings.dtype)
        return self.scale_logits(embeddings @ text.t())
