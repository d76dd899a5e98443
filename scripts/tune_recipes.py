"""Choose each adapter's training recipe on the tasks' validation splits (never on test), from 1 to 50 labels per class.

    python scripts/tune_recipes.py [--adapters coop,linear,lora] [--tasks digits,glyphs] [--sizes 1,4,16,50]
                                   [--seeds 0,1] [--out docs/recipes.md]

For every candidate recipe, task, size (labels per class) and seed, one class-balanced random draw of the pool trains the
adapter once (the same draw for every candidate) and is scored on the task's validation split. A recipe's score is its
mean validation accuracy over tasks, sizes and seeds; the best per adapter is printed, with the whole table, as Markdown
(``--out``) and JSON (same name, ``.json``). ``alnb.studies.protocols`` holds the chosen recipes as the ``alnb``
protocol; the C-PEAL paper's recipe is scored too, for reference.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

# Candidates per adapter: (name, adapter options, trainer options). The first is the C-PEAL paper's settings.
PAPER = {"optimizer": "sgd", "lr": 0.002, "epochs": 10, "warmup_epochs": 1}
TEMPLATE = {"ctx_init": "a photo of a", "class_specific": True}
CANDIDATES: dict[str, list[tuple[str, dict, dict]]] = {
    "coop": [
        ("paper: 16 random ctx, sgd 0.002, 10 ep", {"n_ctx": 16, "class_specific": True}, PAPER),
        ("template ctx, sgd 0.002, 10 ep", TEMPLATE, PAPER),
        ("template ctx, sgd 0.02, ≥100 steps", TEMPLATE, {**PAPER, "lr": 0.02, "min_steps": 100}),
        (
            "template ctx, adamw 3e-3, ≥200 steps",
            TEMPLATE,
            {**PAPER, "optimizer": "adamw", "lr": 3e-3, "min_steps": 200},
        ),
        (
            "template ctx, adamw 1e-2, ≥100 steps",
            TEMPLATE,
            {**PAPER, "optimizer": "adamw", "lr": 1e-2, "min_steps": 100},
        ),
        (
            "template ctx, adamw 1e-2, ≥300 steps",
            TEMPLATE,
            {**PAPER, "optimizer": "adamw", "lr": 1e-2, "min_steps": 300},
        ),
        (
            "shared template ctx, adamw 1e-2, ≥100 steps",
            {**TEMPLATE, "class_specific": False},
            {**PAPER, "optimizer": "adamw", "lr": 1e-2, "min_steps": 100},
        ),
    ],
    "linear": [
        ("paper trainer: sgd 0.002, 10 ep", {}, PAPER),
        ("adamw 1e-3, ≥100 steps", {}, {**PAPER, "optimizer": "adamw", "lr": 1e-3, "min_steps": 100}),
        ("adamw 1e-2, ≥100 steps", {}, {**PAPER, "optimizer": "adamw", "lr": 1e-2, "min_steps": 100}),
        ("adamw 1e-2, ≥300 steps", {}, {**PAPER, "optimizer": "adamw", "lr": 1e-2, "min_steps": 300}),
    ],
    "lora": [
        ("paper: sgd 0.002, 10 ep", {}, PAPER),
        ("adamw 1e-3, ≥50 steps", {}, {**PAPER, "optimizer": "adamw", "lr": 1e-3, "min_steps": 50}),
        ("adamw 1e-3, ≥150 steps", {}, {**PAPER, "optimizer": "adamw", "lr": 1e-3, "min_steps": 150}),
        ("adamw 3e-3, ≥100 steps", {}, {**PAPER, "optimizer": "adamw", "lr": 3e-3, "min_steps": 100}),
    ],
}


def _list(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--adapters", default="coop,linear,lora")
    parser.add_argument("--tasks", default="digits,glyphs")
    parser.add_argument("--sizes", default="1,4,16,50", help="labels per class")
    parser.add_argument("--seeds", default="0,1")
    parser.add_argument(
        "--candidates", type=int, default=None, help="only the first N candidates per adapter"
    )
    parser.add_argument("--out", type=Path, default=Path("docs/recipes.md"))
    args = parser.parse_args()

    from alnb.datasets import class_names, load
    from alnb.embedded import default_model_path
    from alnb.metrics import evaluate
    from alnb.models import load_classifier
    from alnb.training import FeatureCache, Trainer, TrainerConfig

    sizes = [int(x) for x in _list(args.sizes)]
    seeds = [int(x) for x in _list(args.seeds)]
    rows = []
    for task in _list(args.tasks):
        splits = load(task)
        pool, validation = splits["train"], splits["validation"]
        names = class_names(pool)
        pool_labels = np.asarray(pool["label"])
        val_labels = np.asarray(validation["label"])
        for adapter in _list(args.adapters):
            cache = FeatureCache()
            for name, adapter_options, trainer_options in CANDIDATES[adapter][: args.candidates]:
                classifier = load_classifier(default_model_path(), names, adapter=adapter, **adapter_options)
                for size in sizes:
                    for seed in seeds:
                        rng = np.random.default_rng([seed, size, 11])
                        chosen = np.sort(
                            np.concatenate(
                                [
                                    rng.choice(np.flatnonzero(pool_labels == c), size, replace=False)
                                    for c in range(len(names))
                                    if (pool_labels == c).sum() >= size
                                ]
                            )
                        )
                        trainer = Trainer(TrainerConfig(seed=seed, quiet=True, **trainer_options))
                        trainer.feature_cache = cache
                        started = time.perf_counter()
                        trainer.fit(classifier, pool, chosen, pool_labels[chosen])
                        fit_seconds = time.perf_counter() - started
                        probs = trainer.predict(classifier, validation, np.arange(len(validation))).probs
                        metrics = evaluate(probs, val_labels)
                        rows.append(
                            {
                                "task": task,
                                "adapter": adapter,
                                "recipe": name,
                                "adapter_options": adapter_options,
                                "trainer_options": trainer_options,
                                "labels_per_class": size,
                                "seed": seed,
                                "accuracy": float(metrics["accuracy"]),
                                "ece": float(metrics["ece"]),
                                "fit_seconds": fit_seconds,
                            }
                        )
                        print(
                            f"{task:8} {adapter:6} {name:42} {size:3}/class seed {seed}: "
                            f"val acc {metrics['accuracy']:.3f} ece {metrics['ece']:.3f} ({fit_seconds:.1f} s)",
                            flush=True,
                        )
            # zero-shot reference on the validation split
            zs = load_classifier(default_model_path(), names, adapter="zeroshot")
            probs = (
                Trainer(TrainerConfig(quiet=True)).predict(zs, validation, np.arange(len(validation))).probs
            )
            rows.append(
                {"task": task, "adapter": adapter, "recipe": "zero-shot (no training)", "labels_per_class": 0,
                 "seed": 0, "accuracy": float(evaluate(probs, val_labels)["accuracy"]),
                 "ece": float(evaluate(probs, val_labels)["ece"]), "fit_seconds": 0.0}
            )  # fmt: skip

    lines = [
        "# Per-adapter recipes, chosen on validation splits",
        "",
        "Made by `python scripts/tune_recipes.py "
        f"--adapters {args.adapters} --tasks {args.tasks} --sizes {args.sizes} --seeds {args.seeds}` on the embedded "
        "tiny CLIP. Validation accuracy (mean over seeds) per labels-per-class; *score* = mean over tasks and sizes. The "
        "best recipe per adapter (bold) is the `alnb` protocol's (`alnb.studies.protocols`).",
        "",
    ]
    best = {}
    for adapter in _list(args.adapters):
        recipes = list(
            dict.fromkeys(r["recipe"] for r in rows if r["adapter"] == adapter and r["labels_per_class"])
        )
        scores = {
            name: float(
                np.mean([r["accuracy"] for r in rows if r["adapter"] == adapter and r["recipe"] == name])
            )
            for name in recipes
        }
        best[adapter] = max(scores, key=scores.get)
        header = [
            "recipe",
            *[f"{t} {s}/class" for t in _list(args.tasks) for s in sizes],
            "score",
            "fit s (max)",
        ]
        lines += [f"## {adapter}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for name in recipes:
            cells = []
            for task in _list(args.tasks):
                for size in sizes:
                    values = [
                        r["accuracy"]
                        for r in rows
                        if r["adapter"] == adapter and r["recipe"] == name and r["task"] == task
                        and r["labels_per_class"] == size
                    ]  # fmt: skip
                    cells.append(f"{np.mean(values):.3f}" if values else "")
            fit = max(r["fit_seconds"] for r in rows if r["adapter"] == adapter and r["recipe"] == name)
            label = f"**{name}**" if name == best[adapter] else name
            lines.append("| " + " | ".join([label, *cells, f"{scores[name]:.3f}", f"{fit:.1f}"]) + " |")
        zero = {
            r["task"]: r["accuracy"] for r in rows if r["adapter"] == adapter and not r["labels_per_class"]
        }
        lines += [
            "",
            "Zero-shot on the same validation splits: " + ", ".join(f"{t} {a:.3f}" for t, a in zero.items()),
            "",
        ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    args.out.with_suffix(".json").write_text(json.dumps({"best": best, "rows": rows}, indent=1))
    print("\n".join(lines))
    print(f"\nbest: {json.dumps(best, indent=1)}\nwrote {args.out} and {args.out.with_suffix('.json')}")


if __name__ == "__main__":
    main()
