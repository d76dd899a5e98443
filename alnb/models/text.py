"""The CLIP text tower run from token embeddings (what CoOp needs) and prompt tokenisation.

transformers' ``CLIPTextModel`` only accepts ``input_ids``. :func:`clip_text_features_from_embeddings`
rebuilds its forward pass from the submodules so learned context vectors can replace token embeddings: token
embedding (done by the caller) → position embeddings → causal + padding mask → encoder → final layer norm →
gather at the end-of-text position → ``text_projection``. With unchanged embeddings it equals
``CLIPModel.get_text_features``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from transformers.masking_utils import create_causal_mask

__all__ = [
    "DEFAULT_TEMPLATES",
    "check_templates",
    "clip_text_features_from_embeddings",
    "eos_positions",
    "pooled",
]

#: CLIP's plain prompt.
DEFAULT_TEMPLATES: tuple[str, ...] = ("a photo of a {}.",)


def pooled(output: Any) -> torch.Tensor:
    """Features from a transformers output object (``.pooler_output``) or a plain tensor (transformers 4)."""
    features = getattr(output, "pooler_output", None)
    return output if features is None else features


def check_templates(templates: Any) -> tuple[str, ...]:
    """Validate prompt templates: a non-empty sequence of strings that each contain ``{}`` exactly once.

    Examples
    --------
    >>> check_templates(["a photo of a {}.", "a drawing of a {}."])
    ('a photo of a {}.', 'a drawing of a {}.')
    """
    if templates is None:
        return DEFAULT_TEMPLATES
    if isinstance(templates, str):
        templates = [templates]
    if not isinstance(templates, Sequence) or len(templates) == 0:
        raise ValueError(f"templates must be a non-empty list of strings with one '{{}}', got {templates!r}.")
    for template in templates:
        if not isinstance(template, str) or template.count("{}") != 1:
            raise ValueError(
                f"each template must be a string containing '{{}}' exactly once (where the class name goes), "
                f"got {template!r}."
            )
    return tuple(templates)


def eos_positions(input_ids: torch.Tensor, eos_token_id: int) -> torch.Tensor:
    """Position of the end-of-text token in each row, by the same rule as transformers' CLIP text model.

    Checkpoints whose config says ``eos_token_id == 2`` (the original OpenAI ones) use the legacy rule
    "largest id"; the others use the first occurrence of ``eos_token_id``. A row without it (a truncated
    prompt) raises.
    """
    if eos_token_id == 2:
        return input_ids.to(torch.int).argmax(dim=-1)
    hits = input_ids == eos_token_id
    if not bool(hits.any(dim=-1).all()):
        row = int((~hits.any(dim=-1)).nonzero()[0, 0])
        raise ValueError(
            f"prompt {row} has no end-of-text token (id {eos_token_id}): it was truncated; shorten the class "
            "names or templates."
        )
    return hits.int().argmax(dim=-1)


def clip_text_features_from_embeddings(
    backbone: Any, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor, positions: torch.Tensor
) -> torch.Tensor:
    """Projected CLIP text features from token embeddings.

    Parameters
    ----------
    backbone : CLIPModel
        Provides ``text_model`` and ``text_projection``.
    inputs_embeds : Tensor, shape (N, L, width)
        Token embeddings (without position embeddings).
    attention_mask : Tensor, shape (N, L)
        1 for real tokens, 0 for padding.
    positions : Tensor of int, shape (N,)
        Where to read each sequence's feature (its end-of-text token).

    Returns
    -------
    Tensor, shape (N, projection_dim)
    """
    text_model = backbone.text_model
    length = inputs_embeds.shape[1]
    max_positions = text_model.embeddings.position_embedding.num_embeddings
    if length > max_positions:
        raise ValueError(
            f"the prompt needs {length} token positions but the text model has max_position_embeddings="
            f"{max_positions}."
        )
    position_ids = text_model.embeddings.position_ids[:, :length]
    hidden = inputs_embeds + text_model.embeddings.position_embedding(position_ids)
    mask = create_causal_mask(
        config=text_model.config, inputs_embeds=hidden, attention_mask=attention_mask, cache=None
    )
    hidden = text_model.encoder(inputs_embeds=hidden, attention_mask=mask, is_causal=True).last_hidden_state
    hidden = text_model.final_layer_norm(hidden)
    rows = torch.arange(hidden.shape[0], device=hidden.device)
    return backbone.text_projection(hidden[rows, positions.to(hidden.device)])
