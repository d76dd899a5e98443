"""Real architectures at full size, random weights, built offline from their configs: what ``load_classifier`` does.

For CLIP ViT-B/32, SigLIP base/16 and DINOv2 small (``save_pretrained`` into a temporary folder, then loaded by path as a
user's checkpoint would be) it prints

- seconds to refuse an unsupported adapter (read from ``config.json`` alone) against seconds to load a supported one;
- the backbone's size in float32 and with ``torch_dtype=torch.bfloat16``;
- for every adapter the model supports: trainable parameters, and the largest |logit difference| between the classifier
  and ``load_classifier(folder)`` after ``save_adapter(folder)`` (trainable tensors moved off their initial values);
- the LoRA modules ``targets=("q", "k", "v", "o")`` wraps (SigLIP: the pooling head's ``nn.MultiheadAttention`` is left
  out).

The embedded word-level tokenizer stands in for each model's own (only the token ids differ). Takes a few minutes on
two CPU cores::

    python scripts/check_real_checkpoints.py [--models clip-b32,siglip-base,dinov2-small]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch
from PIL import Image

from alnb.embedded.tokenizer import build_tokenizer
from alnb.models import available_adapters, load_classifier
from alnb.models.base import Classifier

NAMES = ["cat", "dog", "car", "tree"]
UNSUPPORTED = {"clip": None, "siglip": "coop", "dinov2": "coop"}


def _build(name: str, folder: Path) -> str:
    """Write a randomly initialised full-size model with its processor (and a tokenizer) to ``folder``."""
    from transformers import (
        BitImageProcessor,
        CLIPConfig,
        CLIPImageProcessor,
        CLIPModel,
        Dinov2Config,
        Dinov2Model,
        SiglipConfig,
        SiglipImageProcessor,
        SiglipModel,
    )

    torch.manual_seed(0)
    if name == "clip-b32":  # transformers' CLIPConfig defaults are ViT-B/32
        tokenizer = build_tokenizer(77)
        ids = {
            "bos_token_id": tokenizer.bos_token_id,
            "eos_token_id": tokenizer.eos_token_id,
            "pad_token_id": 0,
        }
        CLIPModel(CLIPConfig(text_config=ids)).save_pretrained(folder)
        CLIPImageProcessor().save_pretrained(folder)
        tokenizer.save_pretrained(folder)
    elif name == "siglip-base":  # SiglipConfig defaults are base/16 at 224 px
        tokenizer = build_tokenizer(64)
        SiglipModel(SiglipConfig()).save_pretrained(folder)
        SiglipImageProcessor().save_pretrained(folder)
        tokenizer.save_pretrained(folder)
    elif name == "dinov2-small":
        config = Dinov2Config(hidden_size=384, num_hidden_layers=12, num_attention_heads=6, patch_size=14)
        Dinov2Model(config).save_pretrained(folder)
        BitImageProcessor(
            size={"shortest_edge": 256}, crop_size={"height": 224, "width": 224}
        ).save_pretrained(folder)
    else:
        raise ValueError(f"unknown model {name!r}; expected clip-b32, siglip-base or dinov2-small.")
    return str(folder)


def _megabytes(clf: Classifier) -> float:
    return sum(p.numel() * p.element_size() for p in clf.backbone.parameters()) / 2**20


def _perturb(clf: Classifier) -> None:
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for _, param in sorted(clf.named_parameters()):
            if param.requires_grad:
                param.add_(0.05 * torch.randn(param.shape, generator=generator))


def _logits(clf: Classifier, x: torch.Tensor) -> torch.Tensor:
    clf.eval()
    with torch.no_grad():
        return clf(pixel_values=x)


def check(name: str, work: Path) -> None:
    start = time.perf_counter()
    model = _build(name, work / name)
    print(f"\n== {name}: built and saved in {time.perf_counter() - start:.1f} s")
    images = [Image.new("RGB", (256, 256), color) for color in ("red", "green", "blue", "white")]

    start = time.perf_counter()
    first = load_classifier(model, NAMES, adapter="linear")
    load_s = time.perf_counter() - start
    family, model_type = first.family, first.model_type
    unsupported = UNSUPPORTED[model_type]
    if unsupported is not None:
        start = time.perf_counter()
        try:
            load_classifier(model, NAMES, adapter=unsupported)
        except ValueError as err:
            print(
                f"refused {unsupported!r} in {time.perf_counter() - start:.3f} s (a load takes {load_s:.1f} s): {err}"
            )
    half = load_classifier(model, NAMES, adapter="linear", torch_dtype=torch.bfloat16)
    print(f"backbone: {_megabytes(first):.0f} MB float32, {_megabytes(half):.0f} MB bfloat16")
    x = first.preprocess(images)
    full, reduced = _logits(first, x), _logits(half, x)
    print(
        f"bf16 vs float32 logits (untrained linear probe): max |diff| {float((full - reduced).abs().max()):.4f}"
    )
    del first, half

    for adapter in available_adapters(family, model_type):
        clf = load_classifier(model, NAMES, adapter=adapter)
        _perturb(clf)
        with tempfile.TemporaryDirectory() as folder:
            start = time.perf_counter()
            clf.save_adapter(folder)
            reloaded = load_classifier(folder)
            seconds = time.perf_counter() - start
            diff = float((_logits(clf, x) - _logits(reloaded, x)).abs().max())
        count, share = clf.trainable_parameters()
        print(
            f"{adapter:>9}: {count:>9,} trainable ({share:.3%}); save + load_classifier(folder) {seconds:.1f} s, "
            f"max |logit diff| {diff:.2e}"
        )
        del clf, reloaded

    lora = load_classifier(model, NAMES, adapter="lora", targets=("q", "k", "v", "o"))
    leaves = sorted({n.rsplit(".", 2)[-2] + "." + n.rsplit(".", 1)[-1] for n in lora.adapter.target_modules})
    heads = [n for n, m in lora.backbone.named_modules() if isinstance(m, torch.nn.MultiheadAttention)]
    wrapped = [n for n in lora.adapter.target_modules if any(n.startswith(h + ".") for h in heads)]
    print(
        f"LoRA q,k,v,o: {len(lora.adapter.target_modules)} modules ({', '.join(leaves)}); "
        f"nn.MultiheadAttention modules {heads}, projections wrapped inside them: {wrapped}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="clip-b32,siglip-base,dinov2-small")
    args = parser.parse_args()
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    with tempfile.TemporaryDirectory() as work:
        for name in args.models.split(","):
            check(name.strip(), Path(work))


if __name__ == "__main__":
    main()
