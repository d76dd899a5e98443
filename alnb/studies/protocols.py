"""Training protocols: how each adapter is trained in every round of a study.

Two named protocols sit side by side so that a user can run either:

``cpeal-paper``
    C-PEAL's released settings, exactly: SGD lr 0.002 with cosine schedule and one warm-up epoch at 1e-5, batch 32,
    10 epochs per round, CoOp with 16 class-specific random contexts, LoRA rank 4 / alpha 4 / dropout 0.25 on q, k, v of
    both towers, class balancing over the top γ = 10 % candidates, C labels per round, 10 rounds.
``alnb``
    alnb's tuned recipe per adapter, chosen on the tasks' *validation* splits (never on test) by
    ``scripts/tune_recipes.py`` over 1 to 50 labels per class; the table it printed is in ``docs/recipes.md``.
    CoOp starts from the zero-shot template, so it never starts below zero-shot.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from alnb.experiment import ExperimentConfig
from alnb.training.config import TrainerConfig

__all__ = ["PROTOCOLS", "Protocol", "get_protocol"]


@dataclass(frozen=True)
class Recipe:
    """How one adapter trains: its options and the trainer's."""

    adapter_options: Mapping[str, Any] = field(default_factory=dict)
    trainer_options: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Protocol:
    """A named training protocol: one :class:`Recipe` per adapter plus the active-learning schedule."""

    name: str
    description: str
    recipes: Mapping[str, Recipe]
    rounds: int = 10
    query_size: int | None = None  # None: C labels per round

    def experiment_config(self, adapter: str, **overrides: Any) -> ExperimentConfig:
        """The :class:`ExperimentConfig` of one adapter under this protocol, its recipe's trainer options nested as
        ``config.trainer``; ``overrides`` set any of its fields."""
        if adapter not in self.recipes:
            raise ValueError(
                f"adapter={adapter!r} has no recipe in protocol {self.name!r}; expected one of {sorted(self.recipes)}"
            )
        recipe = self.recipes[adapter]
        config = ExperimentConfig(
            rounds=self.rounds,
            query_size=self.query_size,
            adapter_options=dict(recipe.adapter_options),
            trainer=TrainerConfig(**recipe.trainer_options),
        )
        return dataclasses.replace(config, **overrides)


_PAPER_TRAINER = {"optimizer": "sgd", "lr": 0.002, "epochs": 10, "warmup_epochs": 1, "batch_size": 32}
LORA_TUNED = {"optimizer": "adamw", "lr": 3e-3, "epochs": 10, "warmup_epochs": 1, "min_steps": 100}

PROTOCOLS: dict[str, Protocol] = {
    protocol.name: protocol
    for protocol in (
        Protocol(
            "cpeal-paper",
            "C-PEAL's released settings: SGD 0.002, 10 epochs, 16 class-specific random contexts, LoRA r=4 on q/k/v",
            {
                "coop": Recipe({"n_ctx": 16, "class_specific": True}, _PAPER_TRAINER),
                "lora": Recipe(
                    {"r": 4, "alpha": 4.0, "dropout": 0.25, "towers": "both", "targets": ("q", "k", "v")},
                    _PAPER_TRAINER,
                ),
                "linear": Recipe({}, _PAPER_TRAINER),
            },
        ),
        Protocol(
            "alnb",
            "alnb's per-adapter recipes, tuned on validation splits over 1–50 labels per class (docs/recipes.md)",
            {
                # Best mean validation accuracy over digits and glyphs at 1 / 4 / 16 / 50 labels per class.
                "coop": Recipe(
                    {"ctx_init": "a photo of a", "class_specific": True},
                    {"optimizer": "adamw", "lr": 1e-2, "epochs": 10, "warmup_epochs": 1, "min_steps": 300},
                ),
                "lora": Recipe(
                    {"r": 4, "alpha": 4.0, "dropout": 0.25, "towers": "both", "targets": ("q", "k", "v")},
                    LORA_TUNED,
                ),
                # The zero-shot-initialised probe with C-PEAL's trainer won: it never falls below zero-shot.
                "linear": Recipe({}, _PAPER_TRAINER),
            },
        ),
    )
}


def get_protocol(name: str | Protocol) -> Protocol:
    """A protocol by name (or the protocol itself); unknown names list the known ones."""
    if isinstance(name, Protocol):
        return name
    if name not in PROTOCOLS:
        raise ValueError(f"protocol={name!r} is not known; expected one of {sorted(PROTOCOLS)}")
    return PROTOCOLS[name]
