"""LoRA on attention projections through peft (C-PEAL's and PEAL's parameter-efficient fine-tuning)."""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from peft import LoraConfig, inject_adapter_in_model
from peft.tuners.lora import LoraLayer
from peft.tuners.tuners_utils import cast_adapter_dtype
from peft.utils import get_peft_model_state_dict, load_peft_weights, set_peft_model_state_dict
from safetensors.torch import save_file
from torch import nn

from alnb._paths import resolve_model_name
from alnb._validation import check_choice, check_fraction, check_positive_int
from alnb.models.adapters.base import STATE_FILE, Adapter, AdapterConfig, kaiming_uniform_
from alnb.models.registry import register_adapter

if TYPE_CHECKING:
    from alnb.models.base import Classifier

__all__ = [
    "LORA_TARGET_ALIASES",
    "PEFT_PREFIX",
    "LoRA",
    "LoRAConfig",
    "inside_multihead_attention",
    "resolve_lora_targets",
]

TOWERS = ("both", "vision", "text")

#: Short target names and the module names they match in different models and transformers versions.
LORA_TARGET_ALIASES: dict[str, tuple[str, ...]] = {
    "q": ("q_proj", "query", "q"),
    "k": ("k_proj", "key", "k"),
    "v": ("v_proj", "value", "v"),
    "o": ("out_proj", "o_proj"),
}

PEFT_WEIGHTS = "adapter_model.safetensors"
_ADAPTER_NAME = "default"
#: Where ``peft.PeftModel`` keeps the base model: its saved keys start with this.
PEFT_PREFIX = "base_model.model."


@dataclass
class LoRAConfig(AdapterConfig):
    """Options of LoRA (defaults: C-PEAL).

    Parameters
    ----------
    r : int
        Rank (4).
    alpha : float
        ``lora_alpha`` (4).
    dropout : float
        Dropout on the LoRA input (0.25); also what ``mc_samples`` samples.
    use_rslora : bool
        Scale by :math:`\\alpha/\\sqrt{r}` (True, rsLoRA) instead of :math:`\\alpha/r`.
    towers : {"both", "vision", "text"}
        Which towers of a vision-language model get LoRA; vision-only models have one tower, which ``"both"``
        and ``"vision"`` mean.
    targets : tuple of str
        Attention projections: ``"q"``, ``"k"``, ``"v"``, ``"o"`` (matched to ``q_proj``/``query``/… by name
        in each model), literal module names such as ``"fc1"``, or full module paths such as
        ``"vision_model.encoder.layers.0.self_attn.q_proj"`` (what a peft folder may record).
    """

    r: int = 4
    alpha: float = 4.0
    dropout: float = 0.25
    use_rslora: bool = True
    towers: str = "both"
    targets: tuple[str, ...] = field(default_factory=lambda: ("q", "k", "v"))

    def __post_init__(self) -> None:
        super().__post_init__()
        check_positive_int(self.r, "r")
        if isinstance(self.alpha, bool) or not isinstance(self.alpha, int | float) or self.alpha <= 0:
            raise ValueError(f"alpha must be a positive number, got {self.alpha!r}.")
        check_fraction(self.dropout, "dropout")
        check_choice(self.towers, "towers", TOWERS)
        if isinstance(self.targets, str):
            self.targets = (self.targets,)
        self.targets = tuple(self.targets)
        if not self.targets or not all(isinstance(t, str) and t for t in self.targets):
            raise ValueError(f"targets must be a non-empty list of module names, got {self.targets!r}.")


def inside_multihead_attention(model: nn.Module) -> set[str]:
    """Names of the modules inside an ``nn.MultiheadAttention`` of ``model``.

    ``nn.MultiheadAttention`` (SigLIP's pooling head) reads ``out_proj.weight`` directly and never calls its
    forward, so LoRA there would train nothing: such projections are never targets.
    """
    return {
        f"{name}.{child}" if name else child
        for name, m in model.named_modules()
        if isinstance(m, nn.MultiheadAttention)
        for child, _ in m.named_children()
    }


def resolve_lora_targets(classifier: Classifier, towers: str, targets: tuple[str, ...]) -> list[str]:
    """Full names of the ``nn.Linear`` modules that get LoRA, found with ``named_modules()``.

    A target with a dot is a full module path and must name a linear layer of a chosen tower. Any other target
    must match at least one linear layer in every chosen tower; otherwise ``ValueError`` lists the linear layer
    names the tower has. Projections inside ``nn.MultiheadAttention`` (SigLIP's attention-pooling
    head) are never targets: that module uses their weights without calling them, so LoRA would have no effect.
    """
    if classifier.family == "vision":
        if towers == "text":
            raise ValueError(
                "towers='text' needs a vision-language model; this model only has an image tower."
            )
        chosen = ["vision"]
    else:
        chosen = ["vision", "text"] if towers == "both" else [towers]
    modules = dict(classifier.backbone.named_modules())
    inside_mha = inside_multihead_attention(classifier.backbone)
    linear = {n: m for n, m in modules.items() if isinstance(m, nn.Linear) and n not in inside_mha}
    names: list[str] = []
    tower_prefixes = tuple(p for t in chosen for p in classifier.tower_prefixes(t))
    for target in (t for t in targets if "." in t):  # a full module path, as a peft folder records it
        if target not in linear or not target.startswith(tower_prefixes):
            where = (
                "inside nn.MultiheadAttention, where LoRA has no effect"
                if target in inside_mha
                else (f"not a linear layer of the {towers} tower(s) of {classifier.model_name!r}")
            )
            raise ValueError(f"LoRA target {target!r} is {where}.")
        names.append(target)
    for tower in chosen:
        prefixes = classifier.tower_prefixes(tower)
        in_tower = [n for n in linear if n.startswith(prefixes)]
        for target in (t for t in targets if "." not in t):
            leaves = LORA_TARGET_ALIASES.get(target, (target,))
            hits = [n for n in in_tower if n.rsplit(".", 1)[-1] in leaves]
            if not hits:
                found = sorted({n.rsplit(".", 1)[-1] for n in in_tower})
                raise ValueError(
                    f"LoRA target {target!r} matches no linear layer of the {tower} tower of "
                    f"{classifier.model_name!r}; its linear layers are named {found}."
                )
            names.extend(hits)
    return sorted(set(names))


@register_adapter("lora", LoRAConfig)
class LoRA(Adapter):
    """Low-rank updates of attention projections, injected with ``peft.inject_adapter_in_model``.

    ``A`` is initialised Kaiming-uniform (``a=√5``, as peft does) from the adapter seed and ``B`` at zero, so
    an untrained LoRA leaves the model unchanged. On CLIP the text prompt stays on the fixed templates.

    Saved exactly as ``peft.PeftModel.save_pretrained`` saves it: ``adapter_model.safetensors`` with keys
    ``base_model.model.<module>.lora_A.weight`` (metadata ``format=pt``) and ``adapter_config.json`` with
    ``base_model_name_or_path`` (an absolute path for a local folder), ``inference_mode=True`` and the base
    model class in ``auto_mapping``; so ``PeftModel.from_pretrained(AutoModel.from_pretrained(model), folder)``
    gives the same backbone. Folders written by earlier alnb versions (keys without the prefix) still load here, and
    ``load_classifier(folder, class_names)`` reads a plain LoRA folder written by peft itself on a CLIP-like model.
    """

    def trains_image_tower(self, classifier: Classifier) -> bool:
        return classifier.family == "vision" or self.config.towers in ("both", "vision")  # type: ignore[attr-defined]

    def trains_text(self, classifier: Classifier) -> bool:
        return classifier.family == "vision_language" and self.config.towers in ("both", "text")  # type: ignore[attr-defined]

    def attach(self, classifier: Classifier) -> None:
        config: LoRAConfig = self.config  # type: ignore[assignment]
        self.target_modules = resolve_lora_targets(classifier, config.towers, config.targets)
        self.peft_config = LoraConfig(
            r=config.r,
            lora_alpha=config.alpha,  # type: ignore[arg-type]  # peft scales by alpha / r; a float works
            lora_dropout=config.dropout,
            use_rslora=config.use_rslora,
            target_modules=self.target_modules,
            init_lora_weights=True,
        )
        inject_adapter_in_model(self.peft_config, classifier.backbone, adapter_name=_ADAPTER_NAME)
        # peft gives new LoRA weights the base layer's dtype; keep them float32 on a bf16 backbone, as
        # get_peft_model and PeftModel.from_pretrained do.
        cast_adapter_dtype(classifier.backbone, _ADAPTER_NAME, autocast_adapter_dtype=True)

    def _lora_layers(self, classifier: Classifier) -> list[LoraLayer]:
        return [m for m in classifier.backbone.modules() if isinstance(m, LoraLayer)]

    def reset_parameters(self, classifier: Classifier, generator: torch.Generator) -> None:
        for layer in self._lora_layers(classifier):
            down: nn.Linear = layer.lora_A[_ADAPTER_NAME]  # type: ignore[assignment]
            up: nn.Linear = layer.lora_B[_ADAPTER_NAME]  # type: ignore[assignment]
            kaiming_uniform_(down.weight, generator)
            with torch.no_grad():
                up.weight.zero_()

    def plain_state(self, classifier: Classifier) -> dict[str, torch.Tensor]:
        return {n: p for n, p in classifier.named_parameters() if p.requires_grad and "lora_" not in n}

    def saved_files(self, classifier: Classifier) -> list[str]:
        return [PEFT_WEIGHTS, "adapter_config.json", *super().saved_files(classifier)]

    def save(self, classifier: Classifier, directory: Path) -> None:
        state = get_peft_model_state_dict(classifier.backbone, adapter_name=_ADAPTER_NAME)
        save_file(
            {PEFT_PREFIX + k: v.detach().cpu().contiguous() for k, v in state.items()},
            str(directory / PEFT_WEIGHTS),
            metadata={"format": "pt"},
        )
        config = copy.deepcopy(self.peft_config)
        backbone = classifier.backbone
        config.base_model_name_or_path = (
            resolve_model_name(classifier.model_name or str(getattr(backbone, "name_or_path", "") or ""))
            or None
        )
        config.inference_mode = True
        auto_mapping = None
        if config.task_type is None:
            auto_mapping = {
                "base_model_class": type(backbone).__name__,
                "parent_library": type(backbone).__module__,
            }
        config.save_pretrained(os.fspath(directory), auto_mapping_dict=auto_mapping)
        super().save(classifier, directory)

    def load(self, classifier: Classifier, directory: Path) -> None:
        if not (directory / PEFT_WEIGHTS).is_file():
            raise FileNotFoundError(
                f"{directory / PEFT_WEIGHTS} is missing; was it written by save_adapter()?"
            )
        weights = load_peft_weights(str(directory), device=str(classifier.device))
        if all(k.startswith(PEFT_PREFIX) for k in weights):  # peft's format; older alnb saved without it
            weights = {k[len(PEFT_PREFIX) :]: v for k, v in weights.items()}
        expected = get_peft_model_state_dict(classifier.backbone, adapter_name=_ADAPTER_NAME)
        # A folder peft wrote with a bare "out_proj" target also wrapped SigLIP's pooling head, where those weights
        # had no effect: they are left out here.
        inert = tuple(f"{name}." for name in inside_multihead_attention(classifier.backbone))
        weights = {k: v for k, v in weights.items() if k in expected or not k.startswith(inert)}
        if set(weights) != set(expected):
            missing, extra = sorted(set(expected) - set(weights)), sorted(set(weights) - set(expected))
            raise ValueError(
                f"the LoRA weights in {directory} do not fit this model: missing {missing[:5]}, unexpected "
                f"{extra[:5]}."
            )
        set_peft_model_state_dict(classifier.backbone, weights, adapter_name=_ADAPTER_NAME)
        if (directory / STATE_FILE).is_file() or self.plain_state(classifier):
            super().load(classifier, directory)  # a folder peft alone wrote has no adapter.safetensors
