"""The model the notebook tests run: the shipped tiny CLIP when its weights exist, else conftest's."""

from __future__ import annotations

from pathlib import Path

__all__ = ["embedded_model_ready", "notebook_model"]


def embedded_model_ready() -> bool:
    """Whether the shipped tiny CLIP's weights are in place (``alnb.embedded.DEFAULT_MODEL``)."""
    from alnb.embedded import DEFAULT_MODEL

    folder = Path(DEFAULT_MODEL)
    return (folder / "config.json").is_file() and any(folder.glob("*.safetensors"))


def notebook_model(fallback: str) -> str:
    """The embedded model when it is ready (what users get), else ``fallback`` (a tiny random CLIP folder)."""
    from alnb.embedded import DEFAULT_MODEL

    return DEFAULT_MODEL if embedded_model_ready() else fallback
