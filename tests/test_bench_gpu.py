"""scripts/bench_gpu.py: its tiny mode runs every path on the CPU, and its FLOP estimate matches torch's count."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "bench_gpu.py"


def _bench_module():
    spec = importlib.util.spec_from_file_location("alnb_bench_gpu", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_flop_estimate_matches_torchs_count() -> None:
    from torch.utils.flop_counter import FlopCounterMode
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection

    bench = _bench_module()
    config = CLIPVisionConfig(
        hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2, image_size=64,
        patch_size=16, projection_dim=24,
    )  # fmt: skip
    # Eager attention: torch's counter sees its products as matmuls (inside SDPA it does not count them).
    config._attn_implementation = "eager"
    model = CLIPVisionModelWithProjection(config).eval()
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(pixel_values=torch.zeros(1, 3, 64, 64))
    estimate = bench.vision_flops_per_image(config, config.projection_dim)
    assert estimate == pytest.approx(counter.get_total_flops(), rel=0.02)
    # ViT-B/32: the published 4.4 GMACs per 224 px image.
    b32 = bench.clip_config(False, _tokenizer()).vision_config
    assert bench.vision_flops_per_image(b32, 512) / 2e9 == pytest.approx(4.4, rel=0.02)


def _tokenizer():
    from alnb.embedded.tokenizer import build_tokenizer

    return build_tokenizer(77)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_tiny_mode_runs_every_path(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--tiny", "--json", str(out)],
        env=env, capture_output=True, text=True, timeout=280, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(out.read_text())
    assert figures["tiny"] is True and figures["device"] == "cpu" and figures["workers"] == 2
    for name in (
        "tensor_images_per_s",
        "jpeg_images_per_s_workers_0",
        "jpeg_images_per_s_workers_2",
        "lora_round_train_images_per_s",
        "coop_round_train_images_per_s",
    ):
        assert figures[name] > 0, name
        assert f"{name:>34}: " in done.stdout  # printed as well
    # The trainable parameters of C-PEAL's adapters on the 32-wide toy: CoOp 16 x width x classes, LoRA r=4 on q/k/v.
    assert figures["coop_round_trainable_parameters"] == 16 * 32 * 10
    assert figures["lora_round_trainable_parameters"] == 2 * 2 * 3 * (4 * 32 * 2)
    assert "tensor_fraction_of_peak" not in figures  # only on CUDA
