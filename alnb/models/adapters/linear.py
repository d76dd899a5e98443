"""Linear probe on frozen image features (the PEAL baseline)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from alnb._validation import check_choice
from alnb.models.adapters.base import Adapter, AdapterConfig, as_vision_language
from alnb.models.registry import register_adapter

if TYPE_CHECKING:
    from alnb.models.base import Classifier

__all__ = ["LinearProbe", "LinearProbeConfig"]

INITS = ("zeroshot", "zeros")


@dataclass
class LinearProbeConfig(AdapterConfig):
    """Options of the linear probe.

    Parameters
    ----------
    init : {"zeroshot", "zeros"}
        Vision-language models only: start the probe's weights from the normalised template text features, so
        the untrained probe gives exactly the zero-shot logits (default), or from zeros (uniform predictions).
        Vision-only models train their classifier's head, initialised like ``nn.Linear``.
    """

    init: str = "zeroshot"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_choice(self.init, "init", INITS)


@register_adapter("linear", LinearProbeConfig)
class LinearProbe(Adapter):
    r"""A linear layer on frozen image features; nothing in the backbone trains.

    On CLIP-like models the probe reads the normalised image features and keeps the model's temperature
    :math:`\tau` and bias :math:`b_0` (SigLIP's; 0 for CLIP), :math:`z = \tau\,\hat f W^\top + b_0 + b`; with
    ``init="zeroshot"``, :math:`W` starts as the normalised class
    text features and :math:`b = 0`. On vision-only models the classifier's own head is the probe.
    """

    def attach(self, classifier: Classifier) -> None:
        if classifier.family == "vision_language":
            with torch.no_grad():  # the joint embedding width, whatever the config calls it
                width = classifier.template_text_features().shape[1]
            self.probe = nn.Linear(width, classifier.num_classes, device=classifier.device)

    def reset_parameters(self, classifier: Classifier, generator: torch.Generator) -> None:
        if classifier.family != "vision_language":
            return  # the classifier resets its head
        config: LinearProbeConfig = self.config  # type: ignore[assignment]  # checked by Adapter.__init__
        with torch.no_grad():
            if config.init == "zeroshot":
                weight = F.normalize(classifier.template_text_features(), dim=-1)
                self.probe.weight.copy_(weight.to(self.probe.weight.device, self.probe.weight.dtype))
            else:
                self.probe.weight.zero_()
            self.probe.bias.zero_()

    def classify(self, classifier: Classifier, embeddings: torch.Tensor) -> torch.Tensor:
        if classifier.family != "vision_language":
            return classifier.default_classify(embeddings)
        cosines = F.linear(embeddings, self.probe.weight.to(embeddings.dtype))
        scaled = as_vision_language(classifier, f"adapter {self.name!r}").scale_logits(cosines)
        return scaled + self.probe.bias.to(embeddings.dtype)
