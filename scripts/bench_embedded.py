"""Figures of the embedded tiny CLIP against the targets it must meet, printed and (with ``--write-card``) stored.

    python scripts/bench_embedded.py [--model alnb/embedded/tiny_clip] [--write-card]

- Zero-shot test accuracy ("a photo of a {class name} .") on every base task, and on held-out procedural sets.
- ``digits``: a logistic-regression probe on L2-normalised image embeddings vs the same probe on the raw 8×8 pixels and
  on a randomly initialised twin, at 10 / 50 / 100 / 300 labels (5 class-balanced draws each, mean ± std). The probe's
  regularisation C is chosen per feature kind and per budget on the *validation* split (never on test).
- Every out-of-distribution task (``glyphs``): a 10-per-class linear probe and CoOp on 10 per class (the ``alnb``
  protocol's recipe), 5 draws each, against zero-shot.
- Size on disk, load time, images per second (2 threads).
Each target prints PASS or FAIL; ``--write-card`` writes benchmark.json and regenerates the model card.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

OOD_TASKS = ("glyphs",)
C_GRID = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0)


def embed(model, images, batch: int = 512) -> np.ndarray:
    from alnb.embedded.pretrain import to_pixels

    out = []
    with torch.no_grad():
        for start in range(0, len(images), batch):
            feats = model.get_image_features(pixel_values=to_pixels(images[start : start + batch]))
            out.append(F.normalize(getattr(feats, "pooler_output", feats), dim=-1))
    return torch.cat(out).numpy()


def balanced_draw(labels: np.ndarray, per_class: int, draw: int) -> np.ndarray:
    rng = np.random.default_rng([draw, per_class])
    return np.concatenate(
        [rng.choice(np.flatnonzero(labels == c), per_class, replace=False) for c in np.unique(labels)]
    )


def choose_c(train_x, train_y, val_x, val_y, per_class: int = 10) -> float:
    """The probe's C with the best mean validation accuracy over 3 draws of ``per_class`` labels."""
    from sklearn.linear_model import LogisticRegression

    scores = {}
    for c in C_GRID:
        accs = []
        for draw in range(3):
            chosen = balanced_draw(train_y, per_class, 100 + draw)
            accs.append(
                LogisticRegression(C=c, max_iter=3000)
                .fit(train_x[chosen], train_y[chosen])
                .score(val_x, val_y)
            )
        scores[c] = float(np.mean(accs))
    return max(scores, key=scores.get)


def probe(
    train_x, train_y, val_x, val_y, test_x, test_y, sizes, draws: int = 5
) -> tuple[dict[str, list[float]], dict[str, float]]:
    """Test accuracy (mean, std over ``draws``) per budget, with C chosen on validation for that budget."""
    from sklearn.linear_model import LogisticRegression

    results: dict[str, list[float]] = {}
    chosen_c: dict[str, float] = {}
    classes = len(np.unique(train_y))
    for size in sizes:
        c = chosen_c[str(size)] = choose_c(train_x, train_y, val_x, val_y, size // classes)
        scores = []
        for draw in range(draws):
            chosen = balanced_draw(train_y, size // classes, draw)
            clf = LogisticRegression(C=c, max_iter=3000).fit(train_x[chosen], train_y[chosen])
            scores.append(float(clf.score(test_x, test_y)))
        results[str(size)] = [float(np.mean(scores)), float(np.std(scores))]
    return results, chosen_c


def coop_few_shot(model_path: str, task, per_class: int, draws: int = 5) -> list[float]:
    from alnb.datasets import class_names
    from alnb.metrics import accuracy
    from alnb.models import load_classifier
    from alnb.studies import get_protocol
    from alnb.training import FeatureCache, Trainer, TrainerConfig

    recipe = get_protocol("alnb").recipes["coop"]
    names = class_names(task["train"])
    labels = np.asarray(task["train"]["label"])
    test_labels = torch.as_tensor(np.asarray(task["test"]["label"]))
    classifier = load_classifier(model_path, names, adapter="coop", **recipe.adapter_options)
    cache = FeatureCache()
    scores = []
    for draw in range(draws):
        chosen = np.sort(balanced_draw(labels, per_class, draw))
        trainer = Trainer(TrainerConfig(seed=draw, quiet=True, **recipe.trainer_options))
        trainer.feature_cache = cache
        trainer.fit(classifier, task["train"], chosen, labels[chosen])
        probs = trainer.predict(classifier, task["test"], np.arange(len(task["test"]))).probs
        scores.append(float(accuracy(probs, test_labels)))
    return [float(np.mean(scores)), float(np.std(scores))]


def zero_shot(model_path: str, split) -> float:
    from alnb.datasets import class_names
    from alnb.models import load_classifier
    from alnb.training import Trainer, TrainerConfig

    classifier = load_classifier(model_path, class_names(split), adapter="zeroshot")
    predictions = Trainer(TrainerConfig(quiet=True)).predict(classifier, split, np.arange(len(split)))
    return float((predictions.predicted == np.asarray(split["label"])).mean())


def main() -> None:
    from alnb.embedded import DEFAULT_MODEL

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--write-card", action="store_true")
    args = parser.parse_args()

    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from transformers import AutoTokenizer, CLIPModel

    from alnb.datasets import load
    from alnb.datasets.builtin import TASKS
    from alnb.embedded.pretrain import evaluation_sets, zero_shot_accuracy

    torch.manual_seed(0)
    torch.set_num_threads(2)
    started = time.perf_counter()
    model = CLIPModel.from_pretrained(args.model).eval()
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    load_seconds = time.perf_counter() - started
    size_mb = sum(p.stat().st_size for p in Path(args.model).iterdir() if p.is_file()) / 2**20

    held_out = {name: zero_shot_accuracy(model, tokenizer, *data) for name, data in evaluation_sets().items()}
    sk_images = evaluation_sets()["sklearn_digits"][0]
    embed(model, sk_images[:256])  # warm-up
    started = time.perf_counter()
    embed(model, sk_images)
    images_per_second = len(sk_images) / (time.perf_counter() - started)

    tasks = {name: load(name) for name in TASKS if name != "glyphs-xl"}
    zero = {name: zero_shot(args.model, task["test"]) for name, task in tasks.items()}

    # digits: embeddings vs raw pixels vs a random twin, C chosen on validation for each
    digits = tasks["digits"]
    raw = load_digits()
    rest, te = train_test_split(
        np.arange(len(raw.target)), test_size=0.25, stratify=raw.target, random_state=0
    )
    tr, va = train_test_split(rest, test_size=0.2, stratify=raw.target[rest], random_state=0)
    tr, va, te = np.sort(tr), np.sort(va), np.sort(te)
    assert np.array_equal(
        raw.target[tr], np.asarray(digits["train"]["label"])
    )  # the same split as alnb.datasets
    sizes = (10, 50, 100, 300)
    random_model = CLIPModel(model.config).eval()
    features = {
        "pretrained": [embed(model, list(digits[s]["image"])) for s in ("train", "validation", "test")],
        "random_init": [
            embed(random_model, list(digits[s]["image"])) for s in ("train", "validation", "test")
        ],
        "raw_pixels": [raw.data[i] / 16 for i in (tr, va, te)],
    }
    y = [np.asarray(digits[s]["label"]) for s in ("train", "validation", "test")]
    fitted = {kind: probe(f[0], y[0], f[1], y[1], f[2], y[2], sizes) for kind, f in features.items()}
    probes = {kind: result[0] for kind, result in fitted.items()}
    chosen_c = {kind: result[1] for kind, result in fitted.items()}

    ood = {}
    for name in OOD_TASKS:
        task = tasks[name]
        f = [embed(model, list(task[s]["image"])) for s in ("train", "validation", "test")]
        ty = [np.asarray(task[s]["label"]) for s in ("train", "validation", "test")]
        classes = len(np.unique(ty[0]))
        linear, c = probe(f[0], ty[0], f[1], ty[1], f[2], ty[2], [10 * classes])
        ood[name] = {
            "zero_shot": zero[name],
            "linear_probe_10_per_class": linear[str(10 * classes)],
            "coop_10_per_class": coop_few_shot(args.model, task, 10),
            "probe_C": c,
        }

    targets = {
        "digits zero-shot ≥ 0.75": zero["digits"] >= 0.75,
        **{
            f"digits probe ≥ raw pixels at {s} labels": probes["pretrained"][str(s)][0] >= probes["raw_pixels"][str(s)][0]
            for s in sizes
        },
        **{f"{n}: 10/class linear probe ≥ zero-shot + 0.10": o["linear_probe_10_per_class"][0] >= o["zero_shot"] + 0.1
           for n, o in ood.items()},
        **{f"{n}: 10/class CoOp ≥ zero-shot + 0.10": o["coop_10_per_class"][0] >= o["zero_shot"] + 0.1
           for n, o in ood.items()},
        "≤ 25 MB": size_mb <= 25,
        "loads in < 1 s": load_seconds < 1,
        "≥ 1,000 images/s on 2 threads": images_per_second >= 1000,
    }  # fmt: skip
    figures = {
        "zero_shot_test_accuracy": zero,
        "zero_shot_held_out_procedural": held_out,
        "digits_linear_probe_accuracy_mean_std": probes,
        "digits_probe_C_chosen_on_validation_per_budget": chosen_c,
        "out_of_distribution": ood,
        "size_mb": round(size_mb, 2),
        "load_seconds": round(load_seconds, 3),
        "embed_images_per_second_1797_sklearn_digits": round(images_per_second, 1),
        "parameters": sum(p.numel() for p in model.parameters()),
        "torch_threads": torch.get_num_threads(),
        "targets": {k: bool(v) for k, v in targets.items()},
    }
    print(json.dumps(figures, indent=2))
    print("\ndigits linear probe, test accuracy (mean ± std over 5 class-balanced draws)")
    print(f"{'labels':>8} " + " ".join(f"{k:>18}" for k in probes))
    for size in sizes:
        cells = " ".join(f"{probes[k][str(size)][0]:>10.3f} ± {probes[k][str(size)][1]:.3f}" for k in probes)
        print(f"{size:>8} {cells}")
    print("\ntargets")
    for name, ok in targets.items():
        print(f"  {'PASS' if ok else 'FAIL'}  {name}")
    if args.write_card:
        from alnb.embedded.pretrain import write_model_card

        folder = Path(args.model)
        (folder / "benchmark.json").write_text(json.dumps(figures, indent=2))
        write_model_card(folder)
        print(f"\nwrote {folder / 'benchmark.json'} and {folder / 'README.md'}")


if __name__ == "__main__":
    main()
