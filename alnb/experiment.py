"""Simulated experiments: one active-learning run, or a comparison of methods × adapters × seeds, with reports.

A *method* is a query strategy plus the calibration loss its model trains with. ``"cpeal"`` is C-PEAL: entropy with class
balancing (``entropy+pcb``) on a model trained with cross-entropy + the annealed uncertainty-calibration loss. Any other
method is written ``STRATEGY`` or ``STRATEGY@CALIBRATION`` (``"margin@uc"``, ``"badge"``), optionally followed by
``/COLD_START``, the strategy of round 0 (``"cpeal/typiclust"``; default: the config's ``initial_strategy``, random).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from alnb.learner import ActiveLearner
from alnb.pool import Pool
from alnb.strategies import available as available_strategies
from alnb.strategies import build_strategy

__all__ = [
    "METHOD_ALIASES",
    "METHOD_PRESETS",
    "ExperimentConfig",
    "Method",
    "compare",
    "load_data",
    "parse_method",
    "run_experiment",
]

#: Named methods: (strategy spec, calibration loss).
METHOD_PRESETS: dict[str, tuple[str, str]] = {
    "cpeal": ("entropy+pcb", "uc"),
}
#: Named method specs. ``recommended``: C-PEAL with a TypiClust cold start, the one combination whose paired area under
#: the learning curve beat both random and BADGE, intervals excluding 0, on both long-tailed tasks of the 0.2 study
#: (docs/studies/cpeal/report.md; balanced pools and the many-class task were not run in that study).
#: ``cb`` / ``cbsq``: Kim et al.'s (TMLR 2025) class-guided cluster-balanced acquisition, without and with selective
#: querying, cluster-balanced from round 0 (``cb`` as the cold start; ``cb/random`` for a random one).
METHOD_ALIASES: dict[str, str] = {"recommended": "cpeal/typiclust", "cb": "cb/cb", "cbsq": "cbsq/cb"}


@dataclass(frozen=True)
class Method:
    """A query strategy and the calibration loss added to cross-entropy while training."""

    name: str
    strategy: str
    calibration: str = "none"
    initial_strategy: str | None = None  # round 0; None: the experiment's initial_strategy


def parse_method(text: str, *, aliases: bool = True) -> Method:
    """``"cpeal"``, ``"entropy"``, ``"entropy+pcb@uc"``, ``"cpeal/typiclust"`` → :class:`Method`; unknown names list the
    known ones."""
    from alnb.losses import available_losses

    text = text.strip()
    if aliases and text in METHOD_ALIASES:
        # An alias's parts are read literally, so "cb" → "cb/cb" names the strategy cb, not the alias again.
        return dataclasses.replace(parse_method(METHOD_ALIASES[text], aliases=False), name=text)
    body, slash, initial = text.partition("/")
    if slash:
        try:
            build_strategy(initial)
        except ValueError as error:
            raise ValueError(f"method {text!r}: cold start {initial!r}: {error}") from None
        method = parse_method(body, aliases=aliases)
        return dataclasses.replace(method, name=text, initial_strategy=initial.strip())
    if text in METHOD_PRESETS:
        strategy, calibration = METHOD_PRESETS[text]
        return Method(text, strategy, calibration)
    strategy, _, calibration = text.partition("@")
    calibration = calibration or "none"
    try:
        build_strategy(strategy)
    except ValueError as error:
        raise ValueError(
            f"method {text!r}: {error}. Known presets: {sorted(METHOD_PRESETS | METHOD_ALIASES)}; "
            f"strategies: {available_strategies()}"
        ) from None
    if calibration not in available_losses():
        raise ValueError(
            f"method {text!r}: calibration {calibration!r} is unknown; known: {available_losses()}"
        )
    return Method(text, strategy, calibration)


@dataclass
class ExperimentConfig:
    """Everything one simulated run needs besides the method, adapter and seed."""

    model: str | None = None  # None: the embedded tiny CLIP
    dataset: str = "digits"
    rounds: int = 10
    query_size: int | None = None  # default: number of classes (C-PEAL)
    epochs: int = 10
    warmup_epochs: int | None = None  # default: 1 (C-PEAL), 0 for single-epoch runs
    lr: float = 0.002
    batch_size: int = 32
    optimizer: str = "sgd"
    initial_strategy: str = "random"
    pool_size: int | None = None  # subsample the pool (seeded) for speed
    test_size: int | None = None  # subsample the test split (seeded)
    adapter_options: dict[str, Any] = field(default_factory=dict)
    # any other TrainerConfig field, applied last
    trainer_options: dict[str, Any] = field(default_factory=dict)

    def trainer_config(self, *, seed: int, calibration: str = "none") -> Any:
        """The quiet :class:`alnb.training.TrainerConfig` of one run with this config's training fields."""
        from alnb.training import TrainerConfig

        warmup = min(1, self.epochs - 1) if self.warmup_epochs is None else self.warmup_epochs
        return TrainerConfig(
            epochs=self.epochs,
            warmup_epochs=warmup,
            lr=self.lr,
            batch_size=self.batch_size,
            optimizer=self.optimizer,
            seed=seed,
            calibration=calibration,
            quiet=True,
            **self.trainer_options,
        )


def load_data(name: str, seed: int = 0) -> tuple[Any, Any, list[str]]:
    """Pool split, test split and class names for a built-in name, an image folder or a hub / saved data set.

    ``"digits"`` / ``"glyphs"``: built-in; ``"folder:PATH"``: an image folder in class sub-folders (split 75/25, seeded);
    anything else: :func:`alnb.datasets.from_hub` with ``train`` and ``test`` splits.
    """
    from alnb import datasets as alnb_datasets

    if name in alnb_datasets.available():
        splits = alnb_datasets.load(name)
        train, test = splits["train"], splits["test"]
    elif name.startswith("folder:"):
        full = alnb_datasets.image_folder(name.removeprefix("folder:"), labeled=True)
        full = full.filter(lambda row: row["label"] >= 0)
        parts = full.train_test_split(test_size=0.25, seed=seed, stratify_by_column="label")
        train, test = parts["train"], parts["test"]
    else:
        splits = alnb_datasets.from_hub(name)
        if not hasattr(splits, "keys") or not {"train", "test"} <= set(splits.keys()):
            raise ValueError(f"dataset={name!r} must have 'train' and 'test' splits")
        train, test = splits["train"], splits["test"]
    return train, test, alnb_datasets.class_names(train)


def _subsample(n: int, size: int | None, seed: int) -> np.ndarray | None:
    if size is None or size >= n:
        return None
    return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False)).astype(np.int64)


def run_experiment(
    method: Method | str,
    config: ExperimentConfig | None = None,
    *,
    adapter: str = "coop",
    seed: int = 0,
    data: tuple[Any, Any, list[str]] | None = None,
    classifier: Any = None,
    feature_cache: Any = None,
    progress: bool = False,
) -> ActiveLearner:
    """One simulated active-learning run; returns the learner (its ``history`` holds one record per round).

    ``feature_cache`` (an :class:`alnb.training.FeatureCache`) lets runs on the same model and data share their frozen
    image features, so a comparison encodes the pool once.
    """
    from alnb.embedded import default_model_path
    from alnb.models import load_classifier
    from alnb.training import Trainer

    method = parse_method(method) if isinstance(method, str) else method
    config = config or ExperimentConfig()
    train, test, names = data if data is not None else load_data(config.dataset, seed=0)
    test_rows = _subsample(len(test), config.test_size, 0)
    if test_rows is not None:
        test = test.select(test_rows)
    if classifier is None:
        classifier = load_classifier(
            config.model or default_model_path(), names, adapter=adapter, **config.adapter_options
        )
    trainer = Trainer(config.trainer_config(seed=seed, calibration=method.calibration))
    if feature_cache is not None:
        trainer.feature_cache = feature_cache
    pool = Pool(train, names, indices=_subsample(len(train), config.pool_size, seed))
    learner = ActiveLearner(
        classifier,
        pool,
        trainer,
        method.strategy,
        budget=None,
        test=test,
        seed=seed,
        query_size=config.query_size,
        initial_strategy=method.initial_strategy or config.initial_strategy,
    )
    learner.run(config.rounds, progress=progress)
    return learner


@dataclass
class Comparison:
    """Histories of every (method, adapter, seed) run of a comparison."""

    runs: list[dict[str, Any]]

    def curves(self, adapter: str | None = None) -> dict[str, list[list[dict[str, Any]]]]:
        """``{label: [history per seed]}``, the input of :func:`alnb.plots.learning_curves`."""
        out: dict[str, list[list[dict[str, Any]]]] = {}
        adapters = {r["adapter"] for r in self.runs}
        for run in self.runs:
            if adapter is not None and run["adapter"] != adapter:
                continue
            label = run["method"] if len(adapters) == 1 or adapter else f"{run['method']} ({run['adapter']})"
            out.setdefault(label, []).append(run["history"])
        return out

    def table(self, metrics: Sequence[str] = ("accuracy", "ece", "auroc")) -> str:
        """Markdown: mean ± std over seeds of each metric, per method (and adapter) and round."""
        curves = self.curves()
        rounds = max((len(h) for hs in curves.values() for h in hs), default=0)
        lines = []
        for metric in metrics:
            header = ["method", *[f"r{r} ({_labels_at(curves, r)})" for r in range(rounds)]]
            lines += [f"**{metric}** (mean ± std over seeds; column = round (labels))", ""]
            lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            for label, histories in curves.items():
                cells = []
                for r in range(rounds):
                    values = [h[r][metric] for h in histories if len(h) > r and metric in h[r]]
                    cells.append(f"{np.mean(values):.3f} ± {np.std(values):.3f}" if values else "")
                lines.append("| " + " | ".join([label, *cells]) + " |")
            lines.append("")
        return "\n".join(lines)


def _labels_at(curves: Mapping[str, list[list[dict[str, Any]]]], r: int) -> str:
    for histories in curves.values():
        for h in histories:
            if len(h) > r:
                return str(h[r]["num_labeled"])
    return "?"


def compare(
    methods: Sequence[str | Method],
    adapters: Sequence[str] = ("coop",),
    seeds: Sequence[int] = (0, 1, 2),
    config: ExperimentConfig | None = None,
    *,
    out: str | Path | None = None,
    progress: bool = True,
) -> Comparison:
    """Run every method × adapter × seed on one data set; with ``out``, write histories, a table and figures there."""
    from tqdm.auto import tqdm

    from alnb.training import FeatureCache

    config = config or ExperimentConfig()
    cache = FeatureCache()
    parsed = [parse_method(m) if isinstance(m, str) else m for m in methods]
    data = load_data(config.dataset, seed=0)
    runs: list[dict[str, Any]] = []
    last: dict[tuple[str, str], ActiveLearner] = {}
    jobs = [(m, a, s) for a in adapters for m in parsed for s in seeds]
    for method, adapter, seed in tqdm(jobs, desc="runs", disable=not progress):
        started = time.perf_counter()
        learner = run_experiment(method, config, adapter=adapter, seed=seed, data=data, feature_cache=cache)
        runs.append(
            {
                "method": method.name,
                "strategy": method.strategy,
                "calibration": method.calibration,
                "adapter": adapter,
                "seed": seed,
                "seconds": time.perf_counter() - started,
                "history": learner.history,
            }
        )
        last[(method.name, adapter)] = learner
    comparison = Comparison(runs)
    if out is not None:
        write_report(comparison, last, config, Path(out))
    return comparison


def write_report(
    comparison: Comparison,
    learners: Mapping[tuple[str, str], ActiveLearner],
    config: ExperimentConfig,
    out: Path,
) -> None:
    """histories.json, results.md, learning-curve PNGs and one reliability diagram per method (its last seed)."""
    from alnb.plots import learning_curves, reliability_diagram

    out.mkdir(parents=True, exist_ok=True)
    (out / "histories.json").write_text(
        json.dumps({"config": dataclasses.asdict(config), "runs": comparison.runs}, indent=2)
    )
    (out / "results.md").write_text(comparison.table() + "\n")
    for metric in ("accuracy", "ece"):
        figure = learning_curves(comparison.curves(), metric=metric)
        figure.savefig(out / f"learning_curves_{metric}.png", dpi=120, bbox_inches="tight")
    for (method, adapter), learner in learners.items():
        if learner.last_test_predictions is None:
            continue
        figure = reliability_diagram(learner.last_test_predictions.probs, learner.test_labels)
        figure.savefig(
            out / f"reliability_{method}_{adapter}.png".replace("+", "_").replace("@", "_"), dpi=120
        )
