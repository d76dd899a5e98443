"""The embedded default: a tiny CLIP that alnb pretrains on a procedural world and ships inside the package."""

from __future__ import annotations

from pathlib import Path

__all__ = ["DEFAULT_MODEL", "default_model_path"]

#: Local folder of the shipped tiny CLIP, in the Hugging Face format (loads with ``CLIPModel.from_pretrained``).
DEFAULT_MODEL = str(Path(__file__).resolve().parent / "tiny_clip")


def default_model_path() -> str:
    """Path of the shipped tiny CLIP; raises ``FileNotFoundError`` with a fix when the weights are missing."""
    if not (Path(DEFAULT_MODEL) / "config.json").is_file():
        raise FileNotFoundError(
            f"the embedded tiny CLIP is missing from {DEFAULT_MODEL}; reinstall alnb or rebuild it with "
            "`python -m alnb.embedded.pretrain`"
        )
    return DEFAULT_MODEL
