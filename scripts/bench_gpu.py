"""Pool scoring and training speed of a CLIP ViT-B/32-sized model (random weights from its config) on a GPU.

Measures, in bf16 autocast where the device has it:

1. pool scoring from preprocessed tensors: images/s through the image tower, and on CUDA the share of the GPU's dense
   bf16 FLOP rate that is (FLOPs per image estimated from the vision config: matrix products and attention);
2. pool scoring end to end from JPEG files: ``Trainer.predict`` on an ``alnb.datasets.image_folder`` data set, decoding
   and preprocessing in ``--workers`` DataLoader worker processes (with 0 workers for comparison);
3. a LoRA round (r=4 on q/k/v of both towers: every epoch decodes and runs both towers) and a CoOp round (16 context
   vectors per class, trained on cached image features), as ``Trainer.fit`` runs them.

Random weights cost the same as trained ones. ``--tiny`` runs a 2-layer model on a handful of small images in seconds
on the CPU (the tests run it); its figures only show that every path runs.

    python scripts/bench_gpu.py                      # ViT-B/32, 2048 JPEGs, on CUDA when present
    python scripts/bench_gpu.py --tiny --json out.json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

#: Dense bf16 tensor-core peak (TFLOP/s, no sparsity) by device-name fragment, from the vendors' data sheets.
PEAK_BF16_TFLOPS = {
    "H200": 989.0,
    "H100 SXM": 989.0,
    "H100 NVL": 835.0,
    "H100 PCIe": 756.0,
    "H100": 756.0,
    "GH200": 989.0,
    "B200": 2250.0,
    "A100": 312.0,
    "A10G": 70.0,
    "A10": 125.0,
    "L40S": 362.0,
    "L40": 181.0,
    "L4": 121.0,
    "RTX 4090": 165.0,
    "RTX 3090": 71.0,
    "V100": 125.0,  # fp16 tensor cores (V100 has no bf16)
    "T4": 65.0,  # fp16 tensor cores (T4 has no bf16)
}

CLASS_NAMES = ["red", "green", "blue", "yellow", "purple", "orange", "pink", "gray", "brown", "cyan"]


def clip_config(tiny: bool, tokenizer: Any) -> Any:
    """CLIP ViT-B/32's architecture (``openai/clip-vit-base-patch32``), or a 2-layer toy for ``--tiny``.

    The text side uses the embedded word-level tokenizer (its vocabulary size); its cost is the same as with
    CLIP's BPE vocabulary, since only the embedding table's size differs.
    """
    from transformers import CLIPConfig

    ids = {
        "vocab_size": len(tokenizer),
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
        "pad_token_id": tokenizer.pad_token_id,
    }
    if tiny:
        text = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2}
        vision = {
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
        }
        vision.update(image_size=32, patch_size=8)
        return CLIPConfig(
            text_config={**text, **ids, "max_position_embeddings": 32},
            vision_config=vision,
            projection_dim=16,
        )
    text = {"hidden_size": 512, "intermediate_size": 2048, "num_hidden_layers": 12, "num_attention_heads": 8}
    vision = {
        "hidden_size": 768,
        "intermediate_size": 3072,
        "num_hidden_layers": 12,
        "num_attention_heads": 12,
    }
    vision.update(image_size=224, patch_size=32)
    return CLIPConfig(
        text_config={**text, **ids, "max_position_embeddings": 77}, vision_config=vision, projection_dim=512
    )


def vision_flops_per_image(vision: Any, projection_dim: int) -> float:
    """Forward FLOPs (2 per multiply-add) of a ViT image tower: patch embedding, per layer the q/k/v/o and MLP
    products and the attention scores and mix, the projection. Layer norms, softmax and GELU are left out (< 1%)."""
    d, ff, layers = vision.hidden_size, vision.intermediate_size, vision.num_hidden_layers
    patches = (vision.image_size // vision.patch_size) ** 2
    tokens = patches + 1
    patch_embed = 2 * patches * 3 * vision.patch_size**2 * d
    per_layer = 2 * tokens * (4 * d * d + 2 * d * ff) + 2 * 2 * tokens * tokens * d
    return float(patch_embed + layers * per_layer + 2 * d * projection_dim)


def peak_tflops(device: torch.device) -> tuple[float | None, str]:
    if device.type != "cuda":
        return None, device.type
    name = torch.cuda.get_device_name(device)
    for fragment, tflops in PEAK_BF16_TFLOPS.items():  # longest fragments are listed first where they overlap
        if fragment in name:
            return tflops, name
    return None, name


def build_model(folder: Path, tiny: bool) -> tuple[str, Any]:
    from transformers import CLIPImageProcessor, CLIPModel

    from alnb.embedded.tokenizer import build_tokenizer

    tokenizer = build_tokenizer(32 if tiny else 77)
    config = clip_config(tiny, tokenizer)
    torch.manual_seed(0)
    CLIPModel(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    size = config.vision_config.image_size
    CLIPImageProcessor(
        size={"shortest_edge": size}, crop_size={"height": size, "width": size}
    ).save_pretrained(folder)
    return str(folder), config


def write_jpegs(folder: Path, n: int, size: tuple[int, int], seed: int = 0) -> None:
    """``n`` smooth random JPEGs (upscaled 8x6 noise, like photos in frequency content) in 10 class folders."""
    rng = np.random.default_rng(seed)
    for i in range(n):
        cls = folder / CLASS_NAMES[i % len(CLASS_NAMES)]
        cls.mkdir(parents=True, exist_ok=True)
        small = Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8))
        small.resize(size, Image.Resampling.BICUBIC).save(cls / f"{i:06d}.jpg", quality=90)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bench_tensors(classifier: Any, device: torch.device, batch: int, steps: int, bf16: bool) -> float:
    """Images/s of the image tower on preprocessed tensors already on the device."""
    size = classifier.backbone.config.vision_config.image_size
    pixels = torch.randn(batch, 3, size, size, device=device)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)
    with torch.no_grad(), autocast:
        for _ in range(2):  # warm-up: kernels picked, memory pools grown
            classifier.encode_images(pixels)
        _sync(device)
        start = time.perf_counter()
        for _ in range(steps):
            classifier.encode_images(pixels)
        _sync(device)
    return batch * steps / (time.perf_counter() - start)


def _trainer(precision: str, workers: int, batch: int, **overrides: Any) -> Any:
    from alnb.training import Trainer, TrainerConfig

    options: dict[str, Any] = {
        "mixed_precision": precision,
        "num_workers": workers,
        "eval_batch_size": batch,
        "quiet": True,
        "warmup_epochs": 0,
    }
    options.update(overrides)
    return Trainer(TrainerConfig(**options))


def bench_end_to_end(model: str, dataset: Any, precision: str, workers: int, batch: int) -> float:
    """Images/s of ``Trainer.predict`` from JPEG files (decode, preprocess, image tower, head), cold cache."""
    from alnb.models import load_classifier

    classifier = load_classifier(model, CLASS_NAMES, adapter="zeroshot")
    trainer = _trainer(precision, workers, batch)
    trainer.predict(classifier, dataset, range(min(len(dataset), 2 * batch)))  # warm-up (and model on device)
    trainer.feature_cache.clear()
    start = time.perf_counter()
    trainer.predict(classifier, dataset, range(len(dataset)))
    return len(dataset) / (time.perf_counter() - start)


def bench_round(
    model: str,
    dataset: Any,
    adapter: str,
    precision: str,
    workers: int,
    labeled: int,
    epochs: int,
    batch: int,
) -> dict[str, float]:
    """One round's ``fit`` (re-initialised adapter, ``epochs`` epochs on ``labeled`` items); CoOp's image features
    are cached first, as after the first round of a session."""
    from alnb.models import load_classifier

    options: dict[str, Any] = {"n_ctx": 16} if adapter == "coop" else {}
    classifier = load_classifier(model, CLASS_NAMES, adapter=adapter, **options)
    trainer = _trainer(
        precision, workers, 4 * batch, epochs=epochs, batch_size=batch, optimizer="adamw", lr=1e-3
    )
    indices = np.arange(labeled)
    labels = np.asarray(dataset["label"])[:labeled]
    if adapter == "coop":
        trainer.predict(classifier, dataset, indices)  # the pool scoring of the round before fills the cache
    start = time.perf_counter()
    trainer.fit(classifier, dataset, indices, labels)
    seconds = time.perf_counter() - start
    trainable, share = classifier.trainable_parameters()
    return {
        "seconds": seconds,
        "train_images_per_s": labeled * epochs / seconds,
        "trainable_parameters": float(trainable),
        "trainable_share": float(share),
        "final_loss": float(trainer.last_fit_.losses[-1]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--tiny", action="store_true", help="a 2-layer model and a few small images (CPU, seconds)"
    )
    parser.add_argument("--images", type=int, default=None, help="JPEG files to score (2048; tiny: 24)")
    parser.add_argument("--batch", type=int, default=None, help="scoring batch size (256; tiny: 8)")
    parser.add_argument("--steps", type=int, default=None, help="timed batches from tensors (20; tiny: 2)")
    parser.add_argument(
        "--workers", type=int, default=None, help="DataLoader workers (CPU cores, at most 16; tiny: 2)"
    )
    parser.add_argument("--labeled", type=int, default=None, help="labeled items of a round (512; tiny: 8)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs of a round (2; tiny: 2)")
    parser.add_argument("--peak-tflops", type=float, default=None, help="the device's dense bf16 TFLOP/s")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    tiny = args.tiny
    images = args.images or (24 if tiny else 2048)
    batch = args.batch or (8 if tiny else 256)
    steps = args.steps or (2 if tiny else 20)
    workers = args.workers if args.workers is not None else (2 if tiny else min(16, os.cpu_count() or 1))
    labeled = min(images, args.labeled or (8 if tiny else 512))
    epochs = args.epochs or 2

    from alnb.datasets import image_folder
    from alnb.models.devices import default_device
    from alnb.training.trainer import cpu_supports_bf16

    device = default_device()
    bf16 = (device.type == "cuda" and torch.cuda.is_bf16_supported()) or (
        device.type == "cpu" and cpu_supports_bf16()
    )
    precision = "bf16" if bf16 else "no"
    figures: dict[str, Any] = {
        "tiny": tiny,
        "device": str(device),
        "precision": precision,
        "workers": workers,
    }
    with tempfile.TemporaryDirectory(prefix="alnb-bench-gpu-") as tmp:
        start = time.perf_counter()
        model, config = build_model(Path(tmp) / "model", tiny)
        figures["model_build_s"] = time.perf_counter() - start
        start = time.perf_counter()
        write_jpegs(Path(tmp) / "jpegs", images, (40, 30) if tiny else (500, 375))
        dataset = image_folder(Path(tmp) / "jpegs")
        figures["jpeg_write_s"] = time.perf_counter() - start

        from alnb.models import load_classifier

        classifier = load_classifier(model, CLASS_NAMES, adapter="zeroshot").to(device).eval()
        flops = vision_flops_per_image(config.vision_config, config.projection_dim)
        figures["vision_gflops_per_image"] = flops / 1e9
        figures["tensor_images_per_s"] = bench_tensors(classifier, device, batch, steps, bf16)
        peak, name = peak_tflops(device)
        figures["device_name"] = name
        peak = args.peak_tflops or peak
        if peak:
            achieved = figures["tensor_images_per_s"] * flops / 1e12
            figures["tensor_tflops"] = achieved
            figures["peak_bf16_tflops"] = peak
            figures["tensor_fraction_of_peak"] = achieved / peak
        del classifier
        for w in sorted({0, workers}):
            figures[f"jpeg_images_per_s_workers_{w}"] = bench_end_to_end(model, dataset, precision, w, batch)
        for adapter in ("lora", "coop"):
            round_figures = bench_round(
                model, dataset, adapter, precision, workers, labeled, epochs, max(1, min(32, batch))
            )
            for name, value in round_figures.items():
                figures[f"{adapter}_round_{name}"] = value
    for name, value in figures.items():
        shown = f"{value:.4g}" if isinstance(value, float) else str(value)
        print(f"{name:>34}: {shown}")
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2))
    finite = all(math.isfinite(v) for v in figures.values() if isinstance(v, float))
    return 0 if finite else 1


if __name__ == "__main__":
    sys.exit(main())
