"""Paths that must stay valid when a session or an adapter folder is read elsewhere."""

from __future__ import annotations

from pathlib import Path

__all__ = ["resolve_model_name"]


def resolve_model_name(model: str) -> str:
    """``model`` as ``from_pretrained`` can find it again from any working directory.

    An existing local folder becomes an absolute path; anything else (a Hugging Face id such as
    ``"openai/clip-vit-base-patch32"``, or an empty string) is returned unchanged.
    """
    if not model:
        return model
    path = Path(model).expanduser()
    return str(path.resolve()) if path.is_dir() else model
