"""Simulated experiments: one active-learning run, or a comparison of methods × adapters × seeds, with reports.

A *method* is a query strategy plus the calibration loss its model trains with. ``"cpeal"`` is C-PEAL: entropy with class
balancing (``entropy+pcb``) on a model trained with cross-entropy + the annealed uncertainty-calibration loss. Any other
method is written ``STRATEGY`` or ``STRATEGY@CALIBRATION`` (``"margin@uc"``, ``"badge"``), optionally followed by
``/COLD_START``, the strategy of round 0 (``"cpeal/typiclust"``; default: the config's ``initial_strategy``, random).

:class:`ExperimentConfig` holds everything else, its training options nested as a :class:`~alnb.training.TrainerConfig`
(``config.trainer``). Every field carries its help in ``field(metadata={"help": ...})``; ``alnb.cli`` builds its flags
from them, so a new option is one field.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from alnb._validation import check_fraction, check_non_negative_int, check_positive_int
from alnb.learner import ActiveLearner
from alnb.pool import Pool
from alnb.strategies import available as available_strategies
from alnb.strategies import build_strategy
from alnb.training.config import TrainerConfig

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "CONFIG_FORMAT",
    "METHOD_ALIASES",
    "METHOD_PRESETS",
    "Comparison",
    "ExperimentConfig",
    "Method",
    "Splits",
    "compare",
    "load_data",
    "load_splits",
    "parse_method",
    "run_experiment",
    "write_report",
]

#: Version of :meth:`ExperimentConfig.to_dict`: 2 nests the training options under ``"trainer"``; 1 (alnb 0.2,
#: written without a ``"format"`` key) had ``epochs``, ``warmup_epochs``, ``lr``, ``batch_size``, ``optimizer`` and
#: ``trainer_options`` at the top level. :meth:`ExperimentConfig.from_dict` reads both.
CONFIG_FORMAT = 2
_FORMAT_1_TRAINER_KEYS = ("epochs", "warmup_epochs", "lr", "batch_size", "optimizer")

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


def _help(text: str, **metadata: Any) -> dict[str, Any]:
    """A field's metadata: its help on the command line (``cli=False`` keeps it off the command line)."""
    return {"help": text, **metadata}


def _check_optional_positive(value: Any, name: str) -> None:
    if value is not None:
        check_positive_int(value, name)


def _check_name(value: Any, name: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{name} must be a non-empty string, got {value!r}.")


@dataclass
class ExperimentConfig:
    """Everything one simulated run needs besides the method, adapter and seed.

    The training options are one nested :class:`~alnb.training.TrainerConfig` (``trainer``); its ``seed``,
    ``calibration`` and ``image_column`` are set per run by :meth:`trainer_config` (from the run's seed, the method and
    this config's ``image_column``). Each field's help is its ``metadata["help"]``, read by ``alnb.cli``.

    Examples
    --------
    >>> config = ExperimentConfig(rounds=2, trainer=TrainerConfig(epochs=1))
    >>> config.trainer.warmup_epochs, config.trainer_config(seed=3, calibration="uc").seed
    (0, 3)
    """

    model: str | None = field(
        default=None, metadata=_help("HF model id or local folder (default: the embedded tiny CLIP)")
    )
    dataset: str = field(
        default="digits",
        metadata=_help("built-in task (digits, glyphs, ...) | folder:PATH | HF name or save_to_disk folder"),
    )
    image_column: str = field(default="image", metadata=_help("column of the data set holding the images"))
    label_column: str = field(
        default="label", metadata=_help("column of the data set holding the labels (a ClassLabel)")
    )
    train_split: str = field(default="train", metadata=_help("split that forms the pool"))
    test_split: str = field(
        default="test",
        metadata=_help("split scored each round; when the data set has none, a seeded split of the pool"),
    )
    test_fraction: float = field(
        default=0.25,
        metadata=_help("share held out as the test set when there is no test split (or for folder:PATH)"),
    )
    split_seed: int = field(default=0, metadata=_help("seed of that held-out split"))
    rounds: int = field(default=10, metadata=_help("active-learning rounds"))
    query_size: int | None = field(default=None, metadata=_help("labels per round (default: #classes)"))
    initial_strategy: str = field(
        default="random", metadata=_help("strategy of round 0 (random, typiclust, zeroshot)")
    )
    pool_size: int | None = field(default=None, metadata=_help("subsample the pool (seeded) for speed"))
    test_size: int | None = field(default=None, metadata=_help("subsample the test split (seeded) for speed"))
    adapter_options: dict[str, Any] = field(
        default_factory=dict, metadata=_help("adapter options as JSON, e.g. '{\"n_ctx\": 4}'")
    )
    trainer: TrainerConfig = field(default_factory=TrainerConfig, metadata=_help("training options"))

    def __post_init__(self) -> None:
        if self.model is not None:
            _check_name(self.model, "model")
        for name in (
            "dataset",
            "image_column",
            "label_column",
            "train_split",
            "test_split",
            "initial_strategy",
        ):
            _check_name(getattr(self, name), name)
        check_fraction(self.test_fraction, "test_fraction", inclusive=False)
        check_non_negative_int(self.split_seed, "split_seed")
        check_positive_int(self.rounds, "rounds")
        for name in ("query_size", "pool_size", "test_size"):
            _check_optional_positive(getattr(self, name), name)
        if not isinstance(self.adapter_options, dict):
            raise ValueError(f"adapter_options must be a dict, got {self.adapter_options!r}.")
        if isinstance(self.trainer, Mapping):
            self.trainer = TrainerConfig(**self.trainer)
        elif not isinstance(self.trainer, TrainerConfig):
            raise ValueError(
                f"trainer must be a TrainerConfig or a dict of its fields, got {self.trainer!r}."
            )

    def trainer_config(self, *, seed: int, calibration: str = "none") -> TrainerConfig:
        """The quiet :class:`~alnb.training.TrainerConfig` of one run: ``trainer`` with the run's seed, the method's
        calibration and this config's image column."""
        return dataclasses.replace(
            self.trainer, seed=seed, calibration=calibration, quiet=True, image_column=self.image_column
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able fields (the trainer's nested), with ``"format": CONFIG_FORMAT``."""
        return {"format": CONFIG_FORMAT, **dataclasses.asdict(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExperimentConfig:
        """A config from :meth:`to_dict`'s output, or from the flat format 1 that alnb 0.2 wrote (no ``"format"``).

        Raises
        ------
        ValueError
            For another format version, or keys that are not fields.
        """
        data = dict(data)
        version = data.pop("format", 1)
        if version == 1:
            trainer = dict(data.pop("trainer_options", None) or {})
            trainer.update({k: data.pop(k) for k in _FORMAT_1_TRAINER_KEYS if k in data})
            data["trainer"] = trainer
        elif version != CONFIG_FORMAT:
            raise ValueError(
                f"experiment config format {version!r} is not known; this alnb reads formats 1 and {CONFIG_FORMAT}"
            )
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"experiment config (format {version}) has unknown keys {unknown}; expected some of {sorted(known)}"
            )
        return cls(**data)


@dataclass(frozen=True)
class Splits:
    """The pool split, the test split and the class names of a run, plus what was done to get them.

    Unpacks as ``train, test, class_names = splits``.
    """

    train: Any
    test: Any
    class_names: list[str]
    note: str | None = None  # e.g. that the test set is a seeded split of the pool split

    def __iter__(self) -> Iterator[Any]:
        return iter((self.train, self.test, self.class_names))


def _pick_split(splits: Any, split: str, argument: str, name: str) -> Any:
    if split not in splits:
        raise ValueError(
            f"{argument}={split!r} is not a split of dataset={name!r}; it has splits {list(splits)}"
        )
    return splits[split]


def _held_out(train: Any, label_column: str, fraction: float, seed: int) -> tuple[Any, Any]:
    if label_column not in train.column_names:
        raise ValueError(
            f"label_column={label_column!r} is not a column of the data set; it has columns {train.column_names}"
        )
    parts = train.train_test_split(test_size=fraction, seed=seed, stratify_by_column=label_column)
    return parts["train"], parts["test"]


def load_splits(config: ExperimentConfig | None = None, **fields: Any) -> Splits:
    """Pool split, test split and class names named by a config (or by config fields as keywords).

    ``dataset``: a built-in task (:func:`alnb.datasets.available`); ``"folder:PATH"``, an image folder in class
    sub-folders (``test_fraction`` held out, seeded by ``split_seed``); anything else, a Hugging Face data set or a
    ``save_to_disk`` folder (:func:`alnb.datasets.from_hub`) with its own columns (``image_column`` /
    ``label_column``, e.g. ``img`` / ``fine_label``) and splits (``train_split`` / ``test_split``). A data set without
    the test split (or a single saved ``Dataset``) holds out ``test_fraction`` of the pool split, stratified and seeded
    by ``split_seed``, and says so in ``note``.
    """
    from alnb import datasets as alnb_datasets

    config = dataclasses.replace(config, **fields) if config is not None else ExperimentConfig(**fields)
    name, image, label = config.dataset, config.image_column, config.label_column
    note = None
    if name in alnb_datasets.available():
        splits = alnb_datasets.load(name)
        train = _pick_split(splits, config.train_split, "train_split", name)
        test = _pick_split(splits, config.test_split, "test_split", name)
    elif name.startswith("folder:"):
        full = alnb_datasets.image_folder(name.removeprefix("folder:"), labeled=True)
        full = full.filter(lambda row: row["label"] >= 0)
        train, test = _held_out(full, "label", config.test_fraction, config.split_seed)
        note = (
            f"image folder: {config.test_fraction:.0%} of its labeled images held out as the test set "
            f"(stratified, split_seed={config.split_seed})"
        )
    else:
        loaded = alnb_datasets.from_hub(name, image_column=image, label_column=label, rename=False)
        if not hasattr(loaded, "keys"):  # one saved Dataset: it is the pool split
            loaded = {config.train_split: loaded}
        train = _pick_split(loaded, config.train_split, "train_split", name)
        if config.test_split in loaded:
            test = loaded[config.test_split]
        else:
            train, test = _held_out(train, label, config.test_fraction, config.split_seed)
            note = (
                f"dataset {name!r} has no {config.test_split!r} split (splits: {list(loaded)}): "
                f"{config.test_fraction:.0%} of {config.train_split!r} held out as the test set "
                f"(stratified, split_seed={config.split_seed})"
            )
    return Splits(train, test, alnb_datasets.class_names(train, label), note)


def load_data(name: str, seed: int = 0, **layout: Any) -> tuple[Any, Any, list[str]]:
    """``(train, test, class_names)`` of :func:`load_splits` for ``dataset=name`` (``seed``: the held-out split's);
    ``layout`` sets the other data fields of :class:`ExperimentConfig` (``image_column``, ``test_split``, ...)."""
    train, test, names = load_splits(dataset=name, split_seed=seed, **layout)
    return train, test, names


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
    data: Splits | tuple[Any, Any, list[str]] | None = None,
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
    train, test, names = data if data is not None else load_splits(config)
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
    pool = Pool(
        train,
        names,
        indices=_subsample(len(train), config.pool_size, seed),
        image_column=config.image_column,
        label_column=config.label_column,
    )
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
    """Histories of every (method, adapter, seed) run of a comparison, and notes on the data (e.g. a held-out
    split)."""

    runs: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)

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
    data: Splits | tuple[Any, Any, list[str]] | None = None,
) -> Comparison:
    """Run every method × adapter × seed on one data set; with ``out``, write histories, a table and figures there.

    ``data`` (:func:`load_splits`' result) skips loading the data set named by the config.
    """
    from tqdm.auto import tqdm

    from alnb.training import FeatureCache

    config = config or ExperimentConfig()
    cache = FeatureCache()
    parsed = [parse_method(m) if isinstance(m, str) else m for m in methods]
    if data is None:
        data = load_splits(config)
    notes = [data.note] if isinstance(data, Splits) and data.note else []
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
    comparison = Comparison(runs, notes)
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
        json.dumps({"config": config.to_dict(), "notes": comparison.notes, "runs": comparison.runs}, indent=2)
    )
    (out / "results.md").write_text(comparison.table() + "\n")
    for metric in ("accuracy", "ece"):
        figure = cast("Figure", learning_curves(comparison.curves(), metric=metric))  # no ax given: a Figure
        figure.savefig(out / f"learning_curves_{metric}.png", dpi=120, bbox_inches="tight")
    for (method, adapter), learner in learners.items():
        if learner.last_test_predictions is None:
            continue
        figure = cast("Figure", reliability_diagram(learner.last_test_predictions.probs, learner.test_labels))
        figure.savefig(
            out / f"reliability_{method}_{adapter}.png".replace("+", "_").replace("@", "_"), dpi=120
        )
