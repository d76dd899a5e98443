"""Shared fixtures: tiny models built from configs (CLIP, ViT, DINOv2) and a tiny separable image data set.

Everything is session-scoped and small (width 32, 2 layers, 32x32 images), and nothing is downloaded.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from datasets import Dataset
from PIL import Image
from transformers import CLIPConfig

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

#: Class names of the colour data set; every word is in the embedded tokenizer's vocabulary.
COLOR_NAMES = ("red", "green", "blue", "yellow")
COLORS = ((220, 40, 40), (40, 190, 40), (40, 60, 220), (225, 215, 40))
PER_CLASS = 16


def _quiet_transformers() -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    logging.getLogger("accelerate").setLevel(logging.ERROR)


_quiet_transformers()


def tiny_clip_config() -> CLIPConfig:
    """A 2-layer, 32-wide CLIP whose text side fits the embedded tokenizer (max 32 tokens)."""
    from alnb.embedded.tokenizer import build_tokenizer

    tokenizer = build_tokenizer(32)
    return CLIPConfig(
        text_config={
            "vocab_size": len(tokenizer),
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "max_position_embeddings": 32,
            "bos_token_id": tokenizer.bos_token_id,
            "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": tokenizer.pad_token_id,
        },
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "image_size": 32,
            "patch_size": 8,
        },
        projection_dim=16,
        logit_scale_init_value=math.log(100.0),  # trained CLIPs sit at the clamp of 100
    )


@pytest.fixture(scope="session")
def clip_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Folder with a tiny CLIP, the embedded word-level tokenizer and a 32 px CLIPImageProcessor."""
    from transformers import CLIPImageProcessor, CLIPModel

    from alnb.embedded.tokenizer import build_tokenizer

    path = tmp_path_factory.mktemp("tiny_clip")
    torch.manual_seed(0)
    CLIPModel(tiny_clip_config()).save_pretrained(path)
    build_tokenizer(32).save_pretrained(path)
    CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(
        path
    )
    return str(path)


@pytest.fixture(scope="session")
def vit_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Folder with a tiny ViTModel and its image processor."""
    from transformers import ViTConfig, ViTImageProcessor, ViTModel

    path = tmp_path_factory.mktemp("tiny_vit")
    torch.manual_seed(1)
    config = ViTConfig(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        image_size=32,
        patch_size=8,
    )
    ViTModel(config).save_pretrained(path)
    ViTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(path)
    return str(path)


@pytest.fixture(scope="session")
def dinov2_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Folder with a tiny Dinov2Model and its (Bit) image processor."""
    from transformers import BitImageProcessor, Dinov2Config, Dinov2Model

    path = tmp_path_factory.mktemp("tiny_dinov2")
    torch.manual_seed(2)
    config = Dinov2Config(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, mlp_ratio=2, image_size=32, patch_size=8
    )
    Dinov2Model(config).save_pretrained(path)
    BitImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}).save_pretrained(path)
    return str(path)


@pytest.fixture(scope="session")
def siglip_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Folder with a tiny SigLIP (sigmoid-trained CLIP variant), the embedded tokenizer and its processor."""
    from transformers import SiglipConfig, SiglipImageProcessor, SiglipModel

    from alnb.embedded.tokenizer import build_tokenizer

    path = tmp_path_factory.mktemp("tiny_siglip")
    tokenizer = build_tokenizer(16)
    tower = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2}
    config = SiglipConfig(
        text_config={
            **tower,
            "vocab_size": len(tokenizer),
            "max_position_embeddings": 16,
            "projection_size": 32,
            "pad_token_id": tokenizer.pad_token_id,
            "bos_token_id": tokenizer.bos_token_id,
            "eos_token_id": tokenizer.eos_token_id,
        },
        vision_config={**tower, "image_size": 32, "patch_size": 8},
    )
    torch.manual_seed(3)
    model = SiglipModel(config)
    with torch.no_grad():
        model.logit_scale.fill_(
            math.log(10.0)
        )  # SigLIP's published initial temperature (transformers uses 1)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    SiglipImageProcessor(size={"height": 32, "width": 32}).save_pretrained(path)
    return str(path)


@pytest.fixture(scope="session")
def model_dirs(clip_dir: str, vit_dir: str, dinov2_dir: str, siglip_dir: str) -> dict[str, str]:
    return {"clip": clip_dir, "vit": vit_dir, "dinov2": dinov2_dir, "siglip": siglip_dir}


def color_images(seed: int = 0, per_class: int = PER_CLASS) -> tuple[list[Image.Image], list[int]]:
    """Solid-colour 32x32 RGB images plus Gaussian noise (sd 25), classes in turn: 0, 1, 2, 3, 0, …"""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for i in range(per_class * len(COLORS)):
        label = i % len(COLORS)
        pixels = np.asarray(COLORS[label], dtype=np.float64)[None, None, :] + rng.normal(0, 25, (32, 32, 3))
        images.append(Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)))
        labels.append(label)
    return images, labels


@pytest.fixture(scope="session")
def color_dataset() -> Dataset:
    """A ``datasets.Dataset`` of 64 images: "image" (PIL, 32x32 RGB), "label" (ClassLabel of COLOR_NAMES)."""
    from datasets import ClassLabel, Features
    from datasets import Image as ImageFeature

    images, labels = color_images()
    features = Features({"image": ImageFeature(), "label": ClassLabel(names=list(COLOR_NAMES))})
    return Dataset.from_dict({"image": images, "label": labels}, features=features)


@pytest.fixture(scope="session")
def dataset_dir(color_dataset: Dataset, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The colour data set written with ``save_to_disk`` (for subprocess tests)."""
    path = tmp_path_factory.mktemp("colors")
    color_dataset.save_to_disk(str(path))
    return path


@pytest.fixture()
def names(color_dataset: Dataset) -> list[str]:
    """The colour data set's class names."""
    return list(color_dataset.features["label"].names)


@pytest.fixture()
def pool(tmp_path: Path, color_dataset: Dataset, names: list[str]) -> Any:
    """A pool over the colour data set whose labels go to ``tmp_path / "labels.jsonl"``."""
    from alnb.pool import Pool

    return Pool.from_file(tmp_path / "labels.jsonl", color_dataset, names)
