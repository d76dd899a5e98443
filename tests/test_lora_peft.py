"""A LoRA adapter saved by alnb is a peft adapter: peft's own loader reproduces alnb's logits, and the files
are what ``PeftModel.save_pretrained`` writes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import COLOR_NAMES
from datasets import Dataset
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from transformers import AutoTokenizer, CLIPModel

from alnb.models import load_classifier
from alnb.models.adapters.lora import PEFT_PREFIX, PEFT_WEIGHTS
from alnb.models.text import pooled
from alnb.training import Trainer, TrainerConfig

NAMES = list(COLOR_NAMES)
TRAIN = np.arange(32, dtype=np.int64)


@pytest.fixture(scope="module")
def trained_lora(clip_dir: str, color_dataset: Dataset, tmp_path_factory: pytest.TempPathFactory):
    clf = load_classifier(clip_dir, NAMES, adapter="lora")
    labels = np.asarray(color_dataset["label"], dtype=np.int64)[TRAIN]
    config = TrainerConfig(epochs=2, lr=0.05, optimizer="adamw", weight_decay=0.0, batch_size=16, quiet=True)
    Trainer(config).fit(clf, color_dataset, TRAIN, labels)
    folder = clf.save_adapter(tmp_path_factory.mktemp("lora") / "adapter")
    return clf, folder


def _peft_logits(model: torch.nn.Module, clip_dir: str, pixel_values: torch.Tensor) -> torch.Tensor:
    """CLIP zero-shot logits computed with transformers alone (alnb's template, clamp at 100)."""
    tokenizer = AutoTokenizer.from_pretrained(clip_dir)
    tokens = tokenizer([f"a photo of a {n}." for n in NAMES], padding="longest", return_tensors="pt")
    with torch.no_grad():
        text = F.normalize(pooled(model.get_text_features(**tokens)), dim=-1)
        image = F.normalize(pooled(model.get_image_features(pixel_values=pixel_values)), dim=-1)
        scale = model.logit_scale.exp().clamp(max=100.0)
    return scale * image @ text.t()


def test_peft_loads_the_saved_adapter_with_the_same_logits(
    trained_lora, clip_dir: str, color_dataset: Dataset
) -> None:
    clf, folder = trained_lora
    config = json.loads((folder / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == str(Path(clip_dir).resolve())
    assert config["inference_mode"] is True
    base = CLIPModel.from_pretrained(config["base_model_name_or_path"])
    x = clf.preprocess(color_dataset[list(range(32, 40))]["image"])
    plain = _peft_logits(base, clip_dir, x)
    peft_model = PeftModel.from_pretrained(base, str(folder))
    peft_model.eval()
    clf.eval()
    with torch.no_grad():
        ours = clf(pixel_values=x)
    theirs = _peft_logits(peft_model, clip_dir, x)
    assert not torch.allclose(plain, ours, atol=1e-4), "the trained LoRA must change the logits"
    torch.testing.assert_close(theirs, ours, atol=1e-5, rtol=1e-5)


def test_files_are_what_peft_itself_writes(trained_lora, clip_dir: str, tmp_path: Path) -> None:
    clf, folder = trained_lora
    base = CLIPModel.from_pretrained(str(Path(clip_dir).resolve()))
    own = clf.adapter.peft_config
    reference = get_peft_model(
        base,
        LoraConfig(
            r=own.r,
            lora_alpha=own.lora_alpha,
            lora_dropout=own.lora_dropout,
            use_rslora=own.use_rslora,
            target_modules=sorted(own.target_modules),
        ),
    )
    reference.save_pretrained(str(tmp_path / "peft"))
    with (
        safe_open(str(folder / PEFT_WEIGHTS), "pt") as ours,
        safe_open(str(tmp_path / "peft" / PEFT_WEIGHTS), "pt") as theirs,
    ):
        assert sorted(ours.keys()) == sorted(theirs.keys())
        assert all(k.startswith(PEFT_PREFIX) for k in ours.keys())
        assert ours.metadata() == theirs.metadata()
    mine = json.loads((folder / "adapter_config.json").read_text())
    peft_json = json.loads((tmp_path / "peft" / "adapter_config.json").read_text())
    mine["target_modules"], peft_json["target_modules"] = (
        sorted(mine["target_modules"]),
        sorted(peft_json["target_modules"]),
    )
    assert mine == peft_json


def test_adapters_saved_without_the_peft_prefix_still_load(
    trained_lora, clip_dir: str, color_dataset: Dataset, tmp_path: Path
) -> None:
    clf, folder = trained_lora
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    for item in folder.iterdir():
        (legacy / item.name).write_bytes(item.read_bytes())
    weights = load_file(str(folder / PEFT_WEIGHTS))
    save_file({k.removeprefix(PEFT_PREFIX): v for k, v in weights.items()}, str(legacy / PEFT_WEIGHTS))
    fresh = load_classifier(clip_dir, NAMES, adapter="lora", seed=3).load_adapter(legacy)
    x = clf.preprocess(color_dataset[list(range(32, 36))]["image"])
    clf.eval()
    with torch.no_grad():
        assert torch.equal(fresh(pixel_values=x), clf(pixel_values=x))
