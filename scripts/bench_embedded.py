"""Figures of the embedded tiny CLIP: zero-shot accuracy, linear probes vs raw pixels and a random-init twin, speed.

    python scripts/bench_embedded.py [--model alnb/embedded/tiny_clip] [--write-card]

Zero-shot: held-out procedural digits and shapes (seed 10,000, 400 each, never drawn in pretraining) with the prompt
"a photo of a {name} .", and scikit-learn's 1,797 digits (prepared by ``alnb.datasets``' renderer). Linear probes: a
logistic regression on L2-normalised image embeddings of the digits *train* split, scored on the *test* split, with 10 / 50
/ 100 / 300 labels drawn class-balanced (5 draws each, mean ± std); the same probe on the raw 8×8 pixels and on a
randomly initialised model of the same architecture. ``--write-card`` stores the figures in the model folder
(benchmark.json) and regenerates its README.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F


def embed(model, images, batch: int = 512) -> np.ndarray:
    from alnb.embedded.pretrain import to_pixels

    out = []
    with torch.no_grad():
        for start in range(0, len(images), batch):
            feats = model.get_image_features(pixel_values=to_pixels(images[start : start + batch]))
            out.append(F.normalize(getattr(feats, "pooler_output", feats), dim=-1))
    return torch.cat(out).numpy()


def probe(train_x, train_y, test_x, test_y, sizes, draws: int = 5) -> dict[str, list[float]]:
    from sklearn.linear_model import LogisticRegression

    results: dict[str, list[float]] = {}
    classes = np.unique(train_y)
    for size in sizes:
        scores = []
        for draw in range(draws):
            rng = np.random.default_rng([draw, size])
            per_class = size // len(classes)
            chosen = np.concatenate(
                [rng.choice(np.flatnonzero(train_y == c), per_class, replace=False) for c in classes]
            )
            clf = LogisticRegression(C=10.0, max_iter=2000).fit(train_x[chosen], train_y[chosen])
            scores.append(float(clf.score(test_x, test_y)))
        results[str(size)] = [float(np.mean(scores)), float(np.std(scores))]
    return results


def main() -> None:
    from alnb.embedded import DEFAULT_MODEL

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--write-card", action="store_true")
    args = parser.parse_args()

    from sklearn.datasets import load_digits
    from transformers import AutoTokenizer, CLIPModel

    from alnb.datasets import load
    from alnb.embedded.pretrain import evaluation_sets, zero_shot_accuracy

    torch.manual_seed(0)
    started = time.perf_counter()
    model = CLIPModel.from_pretrained(args.model).eval()
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    load_seconds = time.perf_counter() - started

    zero_shot = {
        name: zero_shot_accuracy(model, tokenizer, *data) for name, data in evaluation_sets().items()
    }
    sk_images = evaluation_sets()["sklearn_digits"][0]
    started = time.perf_counter()
    embed(model, sk_images)
    images_per_second = len(sk_images) / (time.perf_counter() - started)

    digits = load("digits")
    train_images, test_images = list(digits["train"]["image"]), list(digits["test"]["image"])
    train_y, test_y = np.asarray(digits["train"]["label"]), np.asarray(digits["test"]["label"])
    sizes = (10, 50, 100, 300)
    random_model = CLIPModel(model.config).eval()
    raw = load_digits()
    # The built-in split is stratified with random_state 0 and test_size 0.25 (alnb.datasets.builtin).
    from sklearn.model_selection import train_test_split

    tr, te = train_test_split(np.arange(len(raw.target)), test_size=0.25, stratify=raw.target, random_state=0)
    tr, te = np.sort(tr), np.sort(te)
    probes = {
        "pretrained": probe(embed(model, train_images), train_y, embed(model, test_images), test_y, sizes),
        "random_init": probe(
            embed(random_model, train_images), train_y, embed(random_model, test_images), test_y, sizes
        ),
        "raw_pixels": probe(raw.data[tr] / 16, raw.target[tr], raw.data[te] / 16, raw.target[te], sizes),
    }
    figures = {
        "zero_shot_accuracy": zero_shot,
        "linear_probe_accuracy_mean_std": probes,
        "load_seconds": round(load_seconds, 3),
        "embed_images_per_second_1797_sklearn_digits": round(images_per_second, 1),
        "parameters": sum(p.numel() for p in model.parameters()),
        "torch_threads": torch.get_num_threads(),
    }
    print(json.dumps(figures, indent=2))
    print("\nlinear probe, test accuracy (mean ± std over 5 class-balanced draws)")
    print(f"{'labels':>8} " + " ".join(f"{k:>18}" for k in probes))
    for size in sizes:
        cells = " ".join(f"{probes[k][str(size)][0]:>10.3f} ± {probes[k][str(size)][1]:.3f}" for k in probes)
        print(f"{size:>8} {cells}")
    if args.write_card:
        from alnb.embedded.pretrain import write_model_card

        folder = Path(args.model)
        (folder / "benchmark.json").write_text(json.dumps(figures, indent=2))
        write_model_card(folder)
        print(f"\nwrote {folder / 'benchmark.json'} and {folder / 'README.md'}")


if __name__ == "__main__":
    main()
