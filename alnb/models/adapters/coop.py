"""CoOp: learnable context vectors in front of the class name on CLIP's text side (Zhou et al., 2022)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

from alnb._validation import check_non_negative
from alnb.models.adapters.base import Adapter, AdapterConfig, as_vision_language
from alnb.models.registry import register_adapter
from alnb.models.text import clip_text_features_from_embeddings, eos_positions

if TYPE_CHECKING:
    from alnb.models.base import Classifier

__all__ = ["CoOp", "CoOpConfig"]

#: Number of context vectors when neither ``n_ctx`` nor ``ctx_init`` is given (C-PEAL).
DEFAULT_N_CTX = 16


@dataclass
class CoOpConfig(AdapterConfig):
    """Options of CoOp.

    Parameters
    ----------
    n_ctx : int, optional
        Number of context vectors (default 16, or the number of tokens of ``ctx_init``). 0 is allowed and then
        the prompt is just ``suffix`` (useful to check the text path).
    class_specific : bool
        One set of context vectors per class (C-PEAL's default, ``[C, n_ctx, width]``) or one shared set.
    ctx_init : str, optional
        A phrase such as ``"a photo of a"`` whose token embeddings initialise the context (then resets are
        deterministic); otherwise the context is drawn from :math:`N(0, \\text{init\\_std}^2)`.
    init_std : float
        Standard deviation of the random initialisation (0.02).
    suffix : str
        What follows the context, with ``{}`` for the class name: ``"{}."`` gives ``[ctx] name .``.
    """

    n_ctx: int | None = None
    class_specific: bool = True
    ctx_init: str | None = None
    init_std: float = 0.02
    suffix: str = "{}."

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n_ctx is not None and (
            isinstance(self.n_ctx, bool) or not isinstance(self.n_ctx, int) or self.n_ctx < 0
        ):
            raise ValueError(f"n_ctx must be a non-negative integer or None, got {self.n_ctx!r}.")
        if self.ctx_init is not None and (not isinstance(self.ctx_init, str) or not self.ctx_init.strip()):
            raise ValueError(f"ctx_init must be a non-empty phrase or None, got {self.ctx_init!r}.")
        check_non_negative(self.init_std, "init_std")
        if not isinstance(self.suffix, str) or self.suffix.count("{}") != 1:
            raise ValueError(
                f"suffix must contain '{{}}' exactly once (the class name), got {self.suffix!r}."
            )
        if not isinstance(self.class_specific, bool):
            raise ValueError(f"class_specific must be True or False, got {self.class_specific!r}.")


@register_adapter("coop", CoOpConfig)
class CoOp(Adapter):
    """Context Optimization on a CLIP text tower.

    The prompt of class ``c`` is ``[BOS] ctx_1 … ctx_n <tokens of suffix.format(name_c)> [EOS]``: the context
    vectors are spliced into the token embeddings right after the start token, and the text tower is run from
    embeddings (see :func:`~alnb.models.text.clip_text_features_from_embeddings`). Only the context trains;
    the image tower is untouched, so image features can be cached.
    """

    families = frozenset({"vision_language"})
    model_types = frozenset({"clip"})

    # Buffers set in attach (nn.Module's __getattr__ would type them as Tensor | Module).
    prompt_ids: torch.Tensor
    prompt_mask: torch.Tensor
    eos_positions: torch.Tensor

    def trains_text(self, classifier: Classifier) -> bool:
        return True

    def _phrase_tokens(self, classifier: Classifier, phrase: str) -> torch.Tensor:
        tokenizer = as_vision_language(classifier, f"adapter {self.name!r}").tokenizer
        ids = tokenizer(phrase)["input_ids"]
        special = set(tokenizer.all_special_ids)
        return torch.tensor([i for i in ids if i not in special], dtype=torch.long)

    def attach(self, classifier: Classifier) -> None:
        config: CoOpConfig = self.config  # type: ignore[assignment]
        text_model = classifier.backbone.text_model
        embedding = text_model.embeddings.token_embedding
        width = embedding.embedding_dim
        init_embeddings = None
        n_ctx = DEFAULT_N_CTX if config.n_ctx is None else config.n_ctx
        if config.ctx_init is not None:
            tokens = self._phrase_tokens(classifier, config.ctx_init)
            if config.n_ctx is not None and config.n_ctx != len(tokens):
                raise ValueError(
                    f"n_ctx={config.n_ctx} does not match ctx_init={config.ctx_init!r}, which has "
                    f"{len(tokens)} tokens; leave n_ctx unset to take it from the phrase."
                )
            n_ctx = len(tokens)
            with torch.no_grad():
                init_embeddings = embedding(tokens.to(embedding.weight.device)).detach().float().cpu()
        self.n_ctx = n_ctx

        encoded = as_vision_language(classifier, f"adapter {self.name!r}").tokenizer(
            [config.suffix.format(name) for name in classifier.class_names],
            padding="longest",
            return_tensors="pt",
        )
        ids, mask = encoded["input_ids"], encoded["attention_mask"]
        max_positions = text_model.embeddings.position_embedding.num_embeddings
        if ids.shape[1] + n_ctx > max_positions:
            longest = classifier.class_names[int(mask.sum(dim=1).argmax())]
            raise ValueError(
                f"CoOp needs n_ctx={n_ctx} context positions plus {ids.shape[1]} for the longest class "
                f"prompt ({config.suffix.format(longest)!r}), {ids.shape[1] + n_ctx} in all, but the text "
                f"model has max_position_embeddings={max_positions}; lower n_ctx or shorten the class names."
            )
        eos = eos_positions(ids, int(classifier.backbone.config.text_config.eos_token_id))
        # Buffers are rebuilt from the class names, so they are not part of the saved state.
        self.register_buffer("prompt_ids", ids, persistent=False)
        self.register_buffer("prompt_mask", mask, persistent=False)
        self.register_buffer("eos_positions", eos + n_ctx, persistent=False)
        shape = (classifier.num_classes, n_ctx, width) if config.class_specific else (n_ctx, width)
        self.ctx = nn.Parameter(torch.zeros(shape, dtype=torch.float32, device=embedding.weight.device))
        self._init_embeddings = init_embeddings

    def reset_parameters(self, classifier: Classifier, generator: torch.Generator) -> None:
        if self._init_embeddings is not None:
            values = self._init_embeddings.expand(self.ctx.shape)
        else:
            values = torch.randn(self.ctx.shape, generator=generator) * self.config.init_std  # type: ignore[attr-defined]
        with torch.no_grad():
            self.ctx.copy_(values)

    def class_text_features(self, classifier: Classifier) -> torch.Tensor:
        token_embedding = classifier.backbone.text_model.embeddings.token_embedding
        embedded = token_embedding(self.prompt_ids)
        num_classes = embedded.shape[0]
        ctx = self.ctx if self.ctx.ndim == 3 else self.ctx.unsqueeze(0).expand(num_classes, -1, -1)
        inputs = torch.cat([embedded[:, :1], ctx.to(embedded.dtype), embedded[:, 1:]], dim=1)
        ones = self.prompt_mask.new_ones(num_classes, self.n_ctx)
        mask = torch.cat([self.prompt_mask[:, :1], ones, self.prompt_mask[:, 1:]], dim=1)
        return clip_text_features_from_embeddings(classifier.backbone, inputs, mask, self.eos_positions)
