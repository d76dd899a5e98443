"""The three studies alnb exists to answer, as one call (or ``alnb study NAME``).

``cpeal``
    Does C-PEAL (entropy + class balancing on a model trained with CE + L_UC) match or beat BADGE / Coreset at a fraction
    of their selection cost? Every method on every task, plus the mechanism alone: CE vs CE + L_UC trained on the same
    random labeled sets.
``prompt-vs-lora``
    Is prompt learning (CoOp) or LoRA the better learner *for selection*? The same methods with each adapter under its
    recipe, same budgets.
``peal``
    Does LoRA beat a linear probe on out-of-distribution and long-tailed pools at tiny budgets (PEAL)? Linear probe vs
    LoRA on the image tower with entropy, featdist, class balancing and random.

Runs are written to ``histories.json`` after each one (the format of ``alnb compare`` plus a ``task`` key), so an
interrupted study resumes where it stopped; ``summary.json``, ``report.md`` and the figures are computed from that file
alone (:func:`alnb.studies.summarize`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from alnb.experiment import load_data, parse_method, run_experiment
from alnb.studies.protocols import Protocol, get_protocol

__all__ = ["STUDIES", "Study", "calibration_mechanism", "run_study"]


@dataclass(frozen=True)
class Study:
    """What one study compares: methods × adapters on tasks, and the references its paired differences are taken to."""

    name: str
    question: str
    methods: tuple[str, ...]
    adapters: tuple[str, ...]
    tasks: tuple[str, ...]
    references: tuple[str, ...] = ("random", "badge")
    adapter_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    mechanism: bool = False


STUDIES: dict[str, Study] = {
    study.name: study
    for study in (
        Study(
            "cpeal",
            "Does C-PEAL match or beat BADGE / Coreset at a fraction of their selection cost?",
            methods=(
                "cpeal",
                "entropy",
                "entropy+pcb",
                "entropy@uc",
                "margin+pcb",
                "random",
                "badge",
                "coreset",
                "cpeal/typiclust",
            ),
            adapters=("coop",),
            tasks=("digits", "digits-lt10", "digits-lt100", "glyphs", "glyphs-lt10", "alphanumerics"),
            mechanism=True,
        ),
        Study(
            "prompt-vs-lora",
            "Is prompt learning (CoOp) or LoRA the better learner for selection?",
            methods=("cpeal", "entropy+pcb", "random"),
            adapters=("coop", "lora"),
            tasks=("digits-lt10", "glyphs-lt10"),
            references=("random",),
        ),
        Study(
            "peal",
            "Does LoRA beat a linear probe on out-of-distribution and long-tailed pools at tiny budgets?",
            methods=("entropy", "featdist", "entropy+pcb", "featdist+pcb", "random"),
            adapters=("linear", "lora"),
            tasks=("glyphs", "glyphs-lt10"),
            references=("random",),
            adapter_options={"lora": {"towers": "vision"}},
        ),
    )
}


def _get_study(name: str | Study) -> Study:
    if isinstance(name, Study):
        return name
    if name not in STUDIES:
        raise ValueError(f"study={name!r} is not known; expected one of {sorted(STUDIES)}")
    return STUDIES[name]


def _run_key(run: Mapping[str, Any]) -> tuple[str, str, str, int]:
    return (run["task"], run["method"], run["adapter"], int(run["seed"]))


def run_study(
    study: str | Study,
    *,
    tasks: Sequence[str] | None = None,
    methods: Sequence[str] | None = None,
    seeds: Sequence[int] = (0, 1, 2, 3, 4),
    rounds: int | None = None,
    protocol: str | Protocol = "alnb",
    model: str | None = None,
    pool_size: int | None = None,
    test_size: int | None = None,
    mechanism_sizes: Sequence[int] = (1, 2, 5, 10),
    out: str | Path | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Run a study and return its histories (``{"study", "config", "runs", "mechanism"}``).

    With ``out``, the histories are written to ``out/histories.json`` after every run, runs already there (same task,
    method, adapter, seed and settings) are reused, and ``summary.json``, ``report.md`` and figures are written at the
    end. ``tasks`` / ``methods`` default to the study's; ``rounds`` to the protocol's (10); ``mechanism_sizes`` are
    labels per class of the calibration-mechanism experiment (``cpeal`` only); ``model`` is any CLIP-family hub id or
    folder (default: the embedded tiny CLIP).
    """
    from tqdm.auto import tqdm

    from alnb.training import FeatureCache

    spec = _get_study(study)
    proto = get_protocol(protocol)
    tasks = tuple(tasks or spec.tasks)
    methods = tuple(methods or spec.methods)
    parsed = [parse_method(m) for m in methods]  # fail early on a bad name
    seeds = tuple(int(s) for s in seeds)
    if not seeds:
        raise ValueError(
            "seeds is empty; expected at least one seed (five or more for intervals worth reading)"
        )
    settings = {
        "study": spec.name,
        "protocol": proto.name,
        "model": model,
        "rounds": rounds or proto.rounds,
        "pool_size": pool_size,
        "test_size": test_size,
    }
    histories: dict[str, Any] = {
        "study": spec.name,
        "question": spec.question,
        "config": settings,
        "runs": [],
    }
    path = Path(out) / "histories.json" if out is not None else None
    if path is not None and path.is_file():
        previous = json.loads(path.read_text())
        if previous.get("config") == settings:
            histories["runs"] = previous.get("runs", [])
            histories["mechanism"] = previous.get("mechanism", [])
    done = {_run_key(r) for r in histories["runs"]}

    def save() -> None:
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(histories, indent=1))
            tmp.replace(path)

    jobs = [(t, a, m, s) for t in tasks for a in spec.adapters for m in parsed for s in seeds]
    todo = [j for j in jobs if (j[0], j[2].name, j[1], j[3]) not in done]
    bar = tqdm(total=len(todo), desc=f"study {spec.name}", disable=not progress)
    for task in tasks:
        task_jobs = [j for j in todo if j[0] == task]
        if not task_jobs:
            continue
        data = load_data(task, seed=0)
        cache = FeatureCache()  # frozen features shared by every run on this task
        for _, adapter, method, seed in task_jobs:
            config = proto.experiment_config(
                adapter,
                model=model,
                dataset=task,
                rounds=settings["rounds"],
                pool_size=pool_size,
                test_size=test_size,
            )
            config.adapter_options.update(spec.adapter_options.get(adapter, {}))
            started = time.perf_counter()
            learner = run_experiment(
                method, config, adapter=adapter, seed=seed, data=data, feature_cache=cache
            )
            histories["runs"].append(
                {
                    "task": task,
                    "method": method.name,
                    "strategy": method.strategy,
                    "calibration": method.calibration,
                    "initial_strategy": method.initial_strategy or config.initial_strategy,
                    "adapter": adapter,
                    "seed": seed,
                    "seconds": time.perf_counter() - started,
                    "history": learner.history,
                }
            )
            save()
            bar.update()
    bar.close()
    if spec.mechanism and not histories.get("mechanism"):
        histories["mechanism"] = [
            record
            for task in tasks
            for record in calibration_mechanism(
                task,
                seeds=seeds,
                sizes=mechanism_sizes,
                calibrations=("none", "uc", "uc_unbalanced"),
                protocol=proto,
                model=model,
                test_size=test_size,
                progress=progress,
            )
        ]
        save()
    if out is not None:
        from alnb.studies.report import write_study

        write_study(histories, Path(out))
    return histories


def calibration_mechanism(
    task: str,
    *,
    seeds: Sequence[int] = (0, 1, 2, 3, 4),
    sizes: Sequence[int] = (1, 2, 5, 10),
    calibrations: Sequence[str] = ("none", "uc"),
    protocol: str | Protocol = "alnb",
    adapter: str = "coop",
    model: str | None = None,
    test_size: int | None = None,
    progress: bool = False,
) -> list[dict[str, Any]]:
    """CE vs CE + a calibration loss on the *same* random labeled sets: for each seed and size (labels per class), one
    random draw of ``size · C`` pool images trains the adapter once per loss; test accuracy, ECE, NLL and error-detection
    AUROC, and the share of training samples still misclassified in the last epoch (what L_UC's "incorrect" term needs:
    C-PEAL's balanced form weighs the "correct" term by the share of wrong predictions, so it vanishes once the model
    fits its few labels; ``uc_unbalanced`` keeps it).
    """
    from tqdm.auto import tqdm

    from alnb.embedded import default_model_path
    from alnb.metrics import evaluate
    from alnb.models import load_classifier
    from alnb.training import FeatureCache, Trainer

    proto = get_protocol(protocol)
    config = proto.experiment_config(adapter, dataset=task, model=model)
    train, test, names = load_data(task, seed=0)
    if test_size is not None and test_size < len(test):
        test = test.select(np.sort(np.random.default_rng(0).choice(len(test), test_size, replace=False)))
    labels = np.asarray(train["label"], dtype=np.int64)
    test_labels = np.asarray(test["label"], dtype=np.int64)
    classifier = load_classifier(
        config.model or default_model_path(), names, adapter=adapter, **config.adapter_options
    )
    cache = FeatureCache()
    records = []
    jobs = [(s, n, c) for s in seeds for n in sizes for c in calibrations]
    for seed, size, calibration in tqdm(jobs, desc=f"mechanism {task}", disable=not progress):
        rng = np.random.default_rng([seed, size, 7])
        chosen = np.sort(rng.choice(len(labels), min(len(labels), size * len(names)), replace=False))
        trainer = Trainer(config.trainer_config(seed=seed, calibration=calibration))
        trainer.feature_cache = cache
        trainer.fit(classifier, train, chosen, labels[chosen])
        predictions = trainer.predict(classifier, test, np.arange(len(test)))
        metrics = evaluate(predictions.probs, test_labels)
        epochs = trainer.last_fit_.epochs
        records.append(
            {
                "task": task,
                "seed": seed,
                "labels_per_class": size,
                "num_labeled": len(chosen),
                "calibration": calibration,
                **{k: float(v) for k, v in metrics.items()},
                "train_error_last_epoch": epochs[-1].train_error,
                "train_error_mean": float(np.mean([e.train_error for e in epochs])),
                "calibration_term_mean": float(np.mean([e.calibration for e in epochs])),
            }
        )
    return records
