"""Pretrain the embedded tiny CLIP on the procedural world, on a CPU (from scratch, or grown from an earlier one).

    mkdir -p /tmp/v1 && git archive e605332 alnb/embedded/tiny_clip | tar -x -C /tmp/v1   # the 0.1 model
    python -m alnb.embedded.pretrain --init-from /tmp/v1/alnb/embedded/tiny_clip --run-dir pretrain_runs/tiny_clip

The defaults are the shipped model's recipe (3,500 steps of batch 192 from the 0.1 model; about 45 minutes on 2 CPU
cores). Without ``--init-from`` the model trains from scratch (more steps needed: the 0.1 model took 8,000 steps of
batch 128 on the 0.1 world).

Every batch is generated fresh from ``(seed, step)``, so a run is reproducible and resumes exactly where it stopped
(``--resume``). The learning rate warms up, stays flat, then decays linearly over the last ``--decay-frac`` of the steps
(warmup-stable-decay), so a run can be extended or shortened on resume as long as the decay has not begun. Every
``--eval-every`` steps the model is scored zero-shot on held-out procedural digits and shapes and on scikit-learn's digits;
the best checkpoint so far is exported as a complete Hugging Face folder (config, safetensors, tokenizer, image processor,
model card).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, IterableDataset

from alnb.embedded.tokenizer import build_tokenizer
from alnb.embedded.world import (
    DIGIT_NAMES,
    LETTERS,
    SHAPES,
    caption_for,
    render_digit_like_sklearn,
    render_scene,
    sample_scene,
    sklearn_like_scene,
)

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
CONTEXT_LENGTH = 32
SKLEARN_LIKE_SHARE = 0.3
VISION_LAYERS = 6
LONG_BATCH_SHARE = 0.2


def model_config(vocab_size: int, bos: int, eos: int, pad: int):
    from transformers import CLIPConfig

    return CLIPConfig(
        text_config={
            "vocab_size": vocab_size,
            "hidden_size": 128,
            "intermediate_size": 512,
            "num_hidden_layers": 4,
            "num_attention_heads": 4,
            "max_position_embeddings": CONTEXT_LENGTH,
            "bos_token_id": bos,
            "eos_token_id": eos,
            "pad_token_id": pad,
        },
        vision_config={
            "hidden_size": 128,
            "intermediate_size": 512,
            "num_hidden_layers": VISION_LAYERS,
            "num_attention_heads": 4,
            "image_size": 32,
            "patch_size": 8,
        },
        projection_dim=128,
    )


def to_pixels(images: list) -> torch.Tensor:
    """Images → normalised float tensor [B, 3, 32, 32], exactly as the exported image processor does it."""
    array = np.stack([np.asarray(im, dtype=np.float32) / 255.0 for im in images])
    array = (array - np.array(CLIP_MEAN, np.float32)) / np.array(CLIP_STD, np.float32)
    return torch.from_numpy(array.transpose(0, 3, 1, 2).copy())


class SceneBatches(IterableDataset):
    """Fresh batches of (pixels, token ids, caption ids) for steps start, start+1, …; batch s depends only on (seed, s)."""

    def __init__(self, seed: int, start: int, batch_size: int) -> None:
        self.seed, self.start, self.batch_size = seed, start, batch_size

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        torch.set_num_threads(1)
        tokenizer = build_tokenizer(CONTEXT_LENGTH)
        step = self.start
        while True:
            rng = np.random.default_rng([self.seed, step])
            images, captions = [], []
            # Long (filler-prefixed) captions come in whole batches, so the others pad short: the text tower's cost
            # follows the longest caption of a batch.
            long_batch = bool(rng.random() < LONG_BATCH_SHARE)
            for _ in range(self.batch_size):
                scene = sklearn_like_scene(rng) if rng.random() < SKLEARN_LIKE_SHARE else sample_scene(rng)
                images.append(render_scene(scene))
                captions.append(caption_for(scene, rng, filler=long_batch))
            tokens = tokenizer(captions, padding="longest", truncation=True, max_length=CONTEXT_LENGTH)
            ids = torch.tensor(tokens["input_ids"])
            # Equal captions must not count as negatives: give each distinct caption one id.
            _, caption_ids = np.unique(np.array(captions), return_inverse=True)
            yield to_pixels(images), ids, torch.from_numpy(caption_ids)
            step += 1


def contrastive_loss(
    model, pixels: torch.Tensor, ids: torch.Tensor, caption_ids: torch.Tensor
) -> torch.Tensor:
    out = model(input_ids=ids, attention_mask=(ids != 0).long(), pixel_values=pixels)
    logits = out.logits_per_image
    same = caption_ids[:, None] == caption_ids[None, :]
    same.fill_diagonal_(False)
    logits = logits.masked_fill(same, float("-inf"))
    target = torch.arange(len(ids))
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.t(), target))


def lr_at(step: int, total: int, base: float, warmup: int, decay_frac: float) -> float:
    if step < warmup:
        return base * (step + 1) / warmup
    decay_start = int(total * (1 - decay_frac))
    if step < decay_start:
        return base
    return base * max(0.0, (total - step) / max(1, total - decay_start))


# ---------------------------------------------------------------- zero-shot evaluation


@torch.no_grad()
def zero_shot_accuracy(model, tokenizer, images: list, labels: np.ndarray, prompts: list[str]) -> float:
    model.eval()
    tokens = tokenizer(
        prompts, padding="max_length", truncation=True, max_length=CONTEXT_LENGTH, return_tensors="pt"
    )
    text = model.get_text_features(input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"])
    text = getattr(text, "pooler_output", text)
    text = F.normalize(text, dim=-1)
    correct = 0
    for start in range(0, len(images), 512):
        feats = model.get_image_features(pixel_values=to_pixels(images[start : start + 512]))
        feats = F.normalize(getattr(feats, "pooler_output", feats), dim=-1)
        correct += int((feats @ text.t()).argmax(1).eq(torch.as_tensor(labels[start : start + 512])).sum())
    model.train()
    return correct / len(images)


def evaluation_sets(seed: int = 10_000, n: int = 400) -> dict[str, tuple[list, np.ndarray, list[str]]]:
    """Held-out procedural digits and shapes (seeds never used in training) and scikit-learn's digits."""
    from sklearn.datasets import load_digits

    rng = np.random.default_rng(seed)
    digit_labels = rng.integers(0, 10, n)
    shape_labels = rng.integers(0, len(SHAPES), n)
    letter_labels = rng.integers(0, len(LETTERS), n)
    digits = [render_scene(sample_scene(rng, name=DIGIT_NAMES[i])) for i in digit_labels]
    shapes = [render_scene(sample_scene(rng, name=SHAPES[i])) for i in shape_labels]
    letters = [render_scene(sample_scene(rng, name=LETTERS[i])) for i in letter_labels]
    sk = load_digits()
    sk_images = [render_digit_like_sklearn(x) for x in sk.images]
    digit_prompts = [f"a photo of a digit {d} ." for d in DIGIT_NAMES]
    return {
        "procedural_digits": (digits, digit_labels, digit_prompts),
        "procedural_shapes": (shapes, shape_labels, [f"a photo of a {s} ." for s in SHAPES]),
        "procedural_letters": (letters, letter_labels, [f"a photo of a letter {x} ." for x in LETTERS]),
        "sklearn_digits": (sk_images, sk.target, digit_prompts),
    }


# ---------------------------------------------------------------- warm start


def warm_start(model, tokenizer, folder: Path) -> None:
    """Copy an earlier tiny CLIP into ``model``: tensors of equal name and shape, token embeddings by word (new words keep
    their random init), and extra vision layers as identity residual blocks (zero output projections), so the grown
    model starts out computing what the old one did."""
    from safetensors.torch import load_file
    from transformers import AutoTokenizer

    old = load_file(folder / "model.safetensors")
    old_vocab = AutoTokenizer.from_pretrained(folder).get_vocab()
    state = model.state_dict()
    copied = 0
    for name, tensor in old.items():
        if name in state and state[name].shape == tensor.shape and "token_embedding" not in name:
            state[name] = tensor.clone()
            copied += 1
    embedding_name = "text_model.embeddings.token_embedding.weight"
    embedding = state[embedding_name].clone()
    for word, new_id in tokenizer.get_vocab().items():
        if word in old_vocab:
            embedding[new_id] = old[embedding_name][old_vocab[word]]
    state[embedding_name] = embedding
    layers = model.config.vision_config.num_hidden_layers
    old_layers = len({n.split(".")[3] for n in old if n.startswith("vision_model.encoder.layers.")})
    for layer in range(old_layers, layers):
        for part in ("self_attn.out_proj", "mlp.fc2"):
            for kind in ("weight", "bias"):
                key = f"vision_model.encoder.layers.{layer}.{part}.{kind}"
                state[key] = torch.zeros_like(state[key])
    model.load_state_dict(state)
    print(
        f"warm start from {folder}: {copied} tensors copied, {layers - old_layers} identity vision layers added"
    )


# ---------------------------------------------------------------- export


def export(model, tokenizer, out: Path, figures: dict, recipe: dict) -> None:
    from transformers import CLIPImageProcessor

    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    CLIPImageProcessor(
        size={"shortest_edge": 32},
        crop_size={"height": 32, "width": 32},
        image_mean=list(CLIP_MEAN),
        image_std=list(CLIP_STD),
    ).save_pretrained(out)
    (out / "training_figures.json").write_text(json.dumps({"recipe": recipe, "figures": figures}, indent=2))
    write_model_card(out)


def write_model_card(out: Path) -> None:
    """(Re)write README.md of the exported folder from training_figures.json and, when present, findings.md and
    benchmark.json."""
    info = json.loads((out / "training_figures.json").read_text())
    lines = [
        "# alnb tiny CLIP",
        "",
        "A tiny CLIP pretrained from scratch by alnb on procedurally generated 32×32 image–caption pairs",
        "(digits printed and handwritten, geometric shapes, colours, textured backgrounds), on CPU.",
        "It exists so that every alnb feature runs offline; it is not a general-purpose model.",
        "",
        "## Recipe",
        "",
        "```json",
        json.dumps(info["recipe"], indent=2),
        "```",
        "",
        "## Zero-shot accuracy during pretraining (held-out seeds; prompt 'a photo of a …')",
        "",
        "```json",
        json.dumps(info["figures"], indent=2),
        "```",
    ]
    findings = out / "findings.md"
    if findings.is_file():  # what the studies found with this model, written by hand from docs/studies
        lines += ["", findings.read_text().strip()]
    bench = out / "benchmark.json"
    if bench.is_file():
        lines += [
            "",
            "## Benchmark (`python scripts/bench_embedded.py`)",
            "",
            "```json",
            bench.read_text(),
            "```",
        ]
    (out / "README.md").write_text("\n".join(lines) + "\n")


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "tiny_clip")
    parser.add_argument("--run-dir", type=Path, default=Path("pretrain_runs/tiny_clip"))
    parser.add_argument("--steps", type=int, default=3500)
    parser.add_argument("--batch-size", type=int, default=192)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--weight-decay", type=float, default=0.1)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--decay-frac", type=float, default=0.25)
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--threads", type=int, default=0, help="torch threads; 0 = adapt to the machine's load every 50 steps"
    )
    parser.add_argument("--resume", action="store_true", help="continue from --run-dir's checkpoint")
    parser.add_argument(
        "--init-from",
        type=Path,
        default=None,
        help="warm start from an earlier tiny CLIP folder: weights copied by name, token embeddings by word, "
        "vision layers it lacks added as identity blocks",
    )
    args = parser.parse_args(argv)

    from safetensors.torch import load_file, save_file
    from transformers import CLIPModel

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads or 2)
    tokenizer = build_tokenizer(CONTEXT_LENGTH)
    config = model_config(
        len(tokenizer), tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id
    )
    model = CLIPModel(config)
    if args.init_from is not None and not args.resume:
        warm_start(model, tokenizer, args.init_from)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=args.lr, weight_decay=args.weight_decay, betas=(0.9, 0.98)
    )
    args.run_dir.mkdir(parents=True, exist_ok=True)
    ckpt, state_path, log_path = (
        args.run_dir / "model.safetensors",
        args.run_dir / "state.pt",
        args.run_dir / "log.jsonl",
    )
    start, best, elapsed_before = 0, -1.0, 0.0
    if args.resume and ckpt.is_file():
        model.load_state_dict(load_file(ckpt))
        state = torch.load(state_path, weights_only=True)
        optimizer.load_state_dict(state["optimizer"])
        start, best, elapsed_before = int(state["step"]), float(state["best"]), float(state["elapsed"])
        print(f"resumed at step {start} (best zero-shot mean {best:.3f})", flush=True)
    recipe = {
        "parameters": sum(p.numel() for p in model.parameters()),
        "vision": f"ViT 128 wide × {VISION_LAYERS} layers, patch 8, 32×32 images",
        "init_from": None if args.init_from is None else str(args.init_from),
        "text": f"transformer 128 wide × 4 layers, word-level vocabulary of {len(tokenizer)}, context {CONTEXT_LENGTH}",
        "projection_dim": 128,
        "optimizer": f"AdamW lr {args.lr}, weight decay {args.weight_decay}, betas (0.9, 0.98)",
        "schedule": f"warm-up {args.warmup} steps, flat, linear decay over the last {args.decay_frac:.0%}",
        "batch_size": args.batch_size,
        "steps": args.steps,
        "seed": args.seed,
        "data": f"fresh procedural batches per step; {SKLEARN_LIKE_SHARE:.0%} low-resolution white-on-black digits; "
        f"{LONG_BATCH_SHARE:.0%} of batches with long filler-prefixed captions",
        "command": "python -m alnb.embedded.pretrain " + " ".join(sys.argv[1:] if argv is None else argv),
    }
    evals = evaluation_sets()
    loader = DataLoader(SceneBatches(args.seed, start, args.batch_size), batch_size=None, num_workers=1)
    model.train()
    t0 = time.time()
    running = None
    for step, (pixels, ids, caption_ids) in zip(range(start, args.steps), loader, strict=False):
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, args.steps, args.lr, args.warmup, args.decay_frac)
        loss = contrastive_loss(model, pixels, ids, caption_ids)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        with torch.no_grad():  # CLIP clamps its temperature at 100
            model.logit_scale.clamp_(0, math.log(100))
        running = loss.item() if running is None else 0.98 * running + 0.02 * loss.item()
        done = step + 1
        if done % 50 == 0:
            if not args.threads:  # two threads stall on each other when another process holds a core
                torch.set_num_threads(1 if os.getloadavg()[0] > 2.5 else 2)
            elapsed = elapsed_before + time.time() - t0
            print(f"step {done}/{args.steps} loss {running:.3f} lr {optimizer.param_groups[0]['lr']:.2e} "
                  f"{elapsed / 60:.1f} min", flush=True)  # fmt: skip
        if done % args.eval_every == 0 or done == args.steps:
            elapsed = elapsed_before + time.time() - t0
            scores = {name: zero_shot_accuracy(model, tokenizer, *data) for name, data in evals.items()}
            mean = float(np.mean(list(scores.values())))
            record = {"step": done, "loss": running, "minutes": elapsed / 60, **scores, "mean": mean}
            with log_path.open("a") as fh:
                fh.write(json.dumps(record) + "\n")
            print("eval", json.dumps(record), flush=True)
            save_file(model.state_dict(), ckpt)
            if mean > best:
                best = mean
                export(model, tokenizer, args.out, record, recipe)
            torch.save(
                {"optimizer": optimizer.state_dict(), "step": done, "best": best, "elapsed": elapsed},
                state_path,
            )


if __name__ == "__main__":
    main()
