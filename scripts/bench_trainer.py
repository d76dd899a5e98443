"""Benchmark the Trainer: seconds per CoOp active-learning round with and without the feature cache, and
images/s of ``predict``.

A round is what C-PEAL does each round: fit CoOp on the labeled set (re-initialised, ``--epochs`` epochs) and
predict on the whole pool. With the cache, the image tower runs once per pool row over the whole session;
without it, every round runs it on every pool row plus every labeled row in every epoch.

    python scripts/bench_trainer.py --pool-sizes 1000 5000
    python scripts/bench_trainer.py --pool-sizes 200 --rounds 2 --epochs 2   # quick check

Uses the embedded tiny CLIP when ``alnb/embedded/tiny_clip/config.json`` exists, else an untrained model of
the same architecture (``alnb.embedded.pretrain.model_config``): the speed is the same, only accuracy differs.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from datasets import ClassLabel, Dataset, Features
from datasets import Image as ImageFeature
from PIL import Image

from alnb.embedded import DEFAULT_MODEL
from alnb.models import load_classifier
from alnb.training import Trainer, TrainerConfig

CLASS_NAMES = ["red", "green", "blue", "yellow", "purple", "orange", "pink", "gray", "brown", "cyan"]


def model_folder(workdir: Path) -> tuple[str, str]:
    """The embedded model, or an untrained one of its architecture written to ``workdir``."""
    if (Path(DEFAULT_MODEL) / "config.json").is_file():
        return DEFAULT_MODEL, "embedded tiny CLIP"
    from transformers import CLIPImageProcessor, CLIPModel

    from alnb.embedded.pretrain import CONTEXT_LENGTH, model_config
    from alnb.embedded.tokenizer import build_tokenizer

    tokenizer = build_tokenizer(CONTEXT_LENGTH)
    config = model_config(
        len(tokenizer), tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id
    )
    torch.manual_seed(0)
    path = workdir / "tiny_clip"
    CLIPModel(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    processor = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    processor.save_pretrained(path)
    return str(path), "untrained model of the embedded architecture (embedded weights not built yet)"


def pool(n: int, classes: int, seed: int = 0) -> Dataset:
    """``n`` noisy solid-colour 32x32 images in ``classes`` classes."""
    rng = np.random.default_rng(seed)
    colors = rng.integers(0, 256, (classes, 3))
    labels = rng.integers(0, classes, n)
    pixels = np.clip(colors[labels][:, None, None, :] + rng.normal(0, 25, (n, 32, 32, 3)), 0, 255)
    images = [Image.fromarray(p.astype(np.uint8)) for p in pixels]
    features = Features({"image": ImageFeature(), "label": ClassLabel(names=CLASS_NAMES[:classes])})
    return Dataset.from_dict({"image": images, "label": labels.tolist()}, features=features)


def run_rounds(
    model: str, dataset: Dataset, classes: int, args: argparse.Namespace, cache: bool
) -> list[float]:
    """Seconds of each round (fit on a growing labeled set, predict on the pool)."""
    clf = load_classifier(model, CLASS_NAMES[:classes], adapter="coop", n_ctx=args.n_ctx)
    config = TrainerConfig(epochs=args.epochs, feature_cache=cache, quiet=True, eval_batch_size=256)
    trainer = Trainer(config)
    labels = np.asarray(dataset["label"], dtype=np.int64)
    order = np.random.default_rng(1).permutation(len(dataset))
    seconds = []
    for r in range(args.rounds):
        labeled = order[: (r + 1) * args.per_round]
        start = time.perf_counter()
        trainer.fit(clf, dataset, labeled, labels[labeled])
        trainer.predict(clf, dataset, np.arange(len(dataset)))
        seconds.append(time.perf_counter() - start)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pool-sizes", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--per-round", type=int, default=10, help="labels added per round (C-PEAL: #classes)")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--n-ctx", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as workdir:
        model, description = model_folder(Path(workdir))
        print(
            f"model: {description}; torch threads: {args.threads}; "
            f"CoOp n_ctx={args.n_ctx}, {args.epochs} epochs"
        )
        for n in args.pool_sizes:
            dataset = pool(n, args.classes)
            cached = run_rounds(model, dataset, args.classes, args, cache=True)
            uncached = run_rounds(model, dataset, args.classes, args, cache=False)
            warm = float(np.mean(cached[1:])) if len(cached) > 1 else cached[0]
            print(
                f"pool {n:>6}: round without cache {np.mean(uncached):7.2f} s | with cache: first round "
                f"{cached[0]:6.2f} s (encodes the pool), later rounds {warm:6.3f} s | "
                f"speed-up {np.mean(uncached) / warm:5.1f}x"
            )
            clf = load_classifier(model, CLASS_NAMES[: args.classes], adapter="coop", n_ctx=args.n_ctx)
            for cache in (False, True):
                trainer = Trainer(TrainerConfig(feature_cache=cache, quiet=True, eval_batch_size=256))
                if cache:
                    trainer.predict(clf, dataset, np.arange(n))  # warm the cache
                start = time.perf_counter()
                trainer.predict(clf, dataset, np.arange(n))
                rate = n / (time.perf_counter() - start)
                label = "cached features" if cache else "images through the tower"
                print(f"pool {n:>6}: predict {rate:10.0f} images/s ({label})")


if __name__ == "__main__":
    main()
