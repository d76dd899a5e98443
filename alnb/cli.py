"""Command line: ``alnb run`` (one simulated experiment), ``alnb compare`` (methods × adapters × seeds), ``alnb study``.

They run offline on the embedded tiny CLIP and scikit-learn's digits by default, and take any Hugging Face model id or
local folder (``--model``) and any built-in, image-folder (``folder:PATH``) or Hugging Face data set (``--dataset``),
with its own columns and splits (``--image-column img --label-column fine_label --test-split test``).

The experiment flags are generated from :class:`alnb.experiment.ExperimentConfig` and its nested
:class:`alnb.training.TrainerConfig`: one flag per field, named after it (``lr`` → ``--lr``, ``batch_size`` →
``--batch-size``), its help from ``field(metadata={"help": ...})``, its choices from a ``Literal`` type, ``--x`` /
``--no-x`` for a bool and JSON for a dict. ``metadata={"cli": False}`` keeps a field off the command line and
``metadata={"flag": "--name"}`` renames its flag. A new option is one field; nothing here changes.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import types
import typing
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["add_config_arguments", "build_parser", "config_from_args", "main"]

_UNION_TYPES: tuple[Any, ...] = (typing.Union, types.UnionType)


def _int_list(text: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers such as 0,1,2, got {text!r}"
        ) from None


def _str_list(text: str) -> list[str]:
    items = [x.strip() for x in text.split(",") if x.strip()]
    if not items:
        raise argparse.ArgumentTypeError("expected at least one comma-separated name")
    return items


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(
            f"expected a JSON object such as '{{\"n_ctx\": 4}}', got {text!r}: {error}"
        ) from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object such as '{{\"n_ctx\": 4}}', got {text!r}")
    return value


def _number(kind: type) -> Any:
    def parse(text: str) -> Any:
        try:
            return kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected {'an integer' if kind is int else 'a number'}, got {text!r}"
            ) from None

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


# --------------------------------------------------------------------- flags from dataclass fields


def _field_types(cls: type) -> dict[str, Any]:
    """The fields' resolved annotations (``from __future__ import annotations`` leaves them as strings)."""
    try:
        return typing.get_type_hints(cls)
    except (NameError, TypeError):  # a class defined where its annotations cannot be resolved
        return {f.name: f.type for f in dataclasses.fields(cls)}


def _strip_optional(annotation: Any) -> tuple[Any, bool]:
    if typing.get_origin(annotation) in _UNION_TYPES:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0], len(args) < len(typing.get_args(annotation))
    return annotation, False


def _default(spec: dataclasses.Field[Any]) -> Any:
    if spec.default is not dataclasses.MISSING:
        return spec.default
    if spec.default_factory is not dataclasses.MISSING:
        return spec.default_factory()
    return dataclasses.MISSING


def _argument(spec: dataclasses.Field[Any], annotation: Any) -> dict[str, Any]:
    """``add_argument`` keywords of one field: type, choices, action and help."""
    kind, _ = _strip_optional(annotation)
    help_text = str(spec.metadata.get("help", ""))
    default = _default(spec)
    if default is not None and default is not dataclasses.MISSING and default != {}:
        help_text = f"{help_text} (default: {default})" if help_text else f"default: {default}"
    options: dict[str, Any] = {"help": help_text}
    choices = spec.metadata.get("choices")
    if typing.get_origin(kind) is typing.Literal:
        choices = choices or typing.get_args(kind)
        kind = type(typing.get_args(kind)[0])
    if kind is bool:
        options["action"] = argparse.BooleanOptionalAction
        return options
    if kind is int or kind is float:
        options["type"] = _number(kind)
        options["metavar"] = "N" if kind is int else "X"
    elif typing.get_origin(kind) is dict or kind is dict:
        options["type"] = _json_object
        options["metavar"] = "JSON"
    elif kind is not str:
        raise TypeError(
            f"field {spec.name!r} has type {annotation!r}, which alnb.cli cannot read from a flag"
        )
    if choices:
        options["choices"] = tuple(choices)
    return options


def add_config_arguments(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    cls: type,
    *,
    only: Iterable[str] | None = None,
    prefix: str = "",
) -> None:
    """Add one flag per field of the dataclass ``cls`` (recursing into dataclass-typed fields) to ``parser``.

    Flags default to "not given" (``argparse.SUPPRESS``): :func:`config_from_args` sets only the given ones, and the
    dataclass keeps its own defaults for the rest.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        Where the flags go.
    cls : type
        A dataclass; each field's ``metadata`` may hold ``help``, ``flag``, ``choices`` and ``cli`` (``False``: no flag).
    only : iterable of str, optional
        Add flags for these (top-level) fields only.
    prefix : str
        Destination prefix of nested fields (used by the recursion: ``trainer.epochs``).

    Examples
    --------
    >>> import argparse
    >>> from alnb.experiment import ExperimentConfig
    >>> parser = argparse.ArgumentParser()
    >>> add_config_arguments(parser, ExperimentConfig)
    >>> config = config_from_args(ExperimentConfig, parser.parse_args(["--rounds", "3", "--lr", "0.01"]))
    >>> config.rounds, config.trainer.lr, config.trainer.epochs
    (3, 0.01, 10)
    """
    wanted = None if only is None else set(only)
    hints = _field_types(cls)
    for spec in dataclasses.fields(cls):
        if (wanted is not None and spec.name not in wanted) or not spec.metadata.get("cli", True):
            continue
        annotation = hints.get(spec.name, spec.type)
        nested, _ = _strip_optional(annotation)
        if dataclasses.is_dataclass(nested) and isinstance(nested, type):
            group = parser.add_argument_group(str(spec.metadata.get("help", spec.name)))
            add_config_arguments(group, nested, prefix=f"{prefix}{spec.name}.")
            continue
        flag = str(spec.metadata.get("flag", "--" + spec.name.replace("_", "-")))
        parser.add_argument(
            flag, dest=prefix + spec.name, default=argparse.SUPPRESS, **_argument(spec, annotation)
        )


def config_from_args(cls: type, args: argparse.Namespace, *, prefix: str = "", **overrides: Any) -> Any:
    """The dataclass ``cls`` built from the flags :func:`add_config_arguments` added and the user gave.

    Nested dataclass fields are built from their own flags (``trainer.lr``); ``overrides`` set fields directly.
    Values are checked by the dataclass itself (its ``__post_init__``).
    """
    given = vars(args)
    hints = _field_types(cls)
    values: dict[str, Any] = {}
    for spec in dataclasses.fields(cls):
        nested, _ = _strip_optional(hints.get(spec.name, spec.type))
        if dataclasses.is_dataclass(nested) and isinstance(nested, type):
            if any(key.startswith(f"{prefix}{spec.name}.") for key in given):
                values[spec.name] = config_from_args(nested, args, prefix=f"{prefix}{spec.name}.")
        elif prefix + spec.name in given:
            values[spec.name] = given[prefix + spec.name]
    values.update(overrides)
    return cls(**values)


# --------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    """The ``alnb`` parser: ``run``, ``compare``, ``study``, ``strategies``, ``losses``."""
    from alnb.experiment import ExperimentConfig

    parser = argparse.ArgumentParser(
        prog="alnb", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="one simulated active-learning experiment")
    run.add_argument(
        "--method", default="cpeal", help="cpeal, or STRATEGY[@CALIBRATION] (e.g. entropy, badge@uc)"
    )
    run.add_argument("--adapter", default="coop", help="coop | lora | vpt | linear | zeroshot")
    run.add_argument("--seed", type=int, default=0)
    add_config_arguments(run, ExperimentConfig)
    run.add_argument("--out", type=Path, default=None, help="output folder (histories, table, figures)")

    cmp = commands.add_parser("compare", help="compare methods × adapters × seeds")
    cmp.add_argument(
        "--methods",
        type=_str_list,
        default=["cpeal", "entropy", "random", "badge", "coreset"],
        help="comma-separated methods (default: cpeal,entropy,random,badge,coreset)",
    )
    cmp.add_argument(
        "--adapters", type=_str_list, default=["coop"], help="comma-separated adapters (default coop)"
    )
    cmp.add_argument(
        "--seeds", type=_int_list, default=[0, 1, 2], help="comma-separated seeds (default 0,1,2)"
    )
    add_config_arguments(cmp, ExperimentConfig)
    cmp.add_argument("--out", type=Path, default=None, help="output folder (histories, table, figures)")

    study = commands.add_parser(
        "study",
        help="one of the evidence studies: cpeal | prompt-vs-lora | peal",
        description="Run a study (methods × adapters × tasks × seeds) and write histories.json, summary.json, "
        "report.md and figures. An interrupted study resumes from --out's histories.json. Rounds, pool and test "
        "sizes default to the protocol's (10 rounds, whole splits).",
    )
    study.add_argument("name", help="cpeal | prompt-vs-lora | peal")
    study.add_argument(
        "--tasks", type=_str_list, default=None, help="comma-separated tasks (default: the study's)"
    )
    study.add_argument(
        "--methods", type=_str_list, default=None, help="comma-separated methods (default: the study's)"
    )
    study.add_argument("--seeds", type=_int_list, default=[0, 1, 2, 3, 4], help="seeds (default 0,1,2,3,4)")
    study.add_argument("--protocol", default="alnb", help="alnb (tuned, default) | cpeal-paper")
    add_config_arguments(study, ExperimentConfig, only=("model", "rounds", "pool_size", "test_size"))
    study.add_argument(
        "--mechanism-sizes",
        type=_int_list,
        default=[1, 2, 5, 10],
        help="labels per class of the mechanism runs",
    )
    study.add_argument("--out", type=Path, required=True, help="output folder")

    commands.add_parser("strategies", help="list the query strategies")
    commands.add_parser("losses", help="list the calibration losses")
    return parser


def _check_adapters(adapters: Sequence[str]) -> None:
    from alnb.models import available_adapters

    known = available_adapters()
    unknown = [a for a in adapters if a not in known]
    if unknown:
        raise ValueError(f"unknown adapter(s) {unknown}; known adapters: {known}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # one "runs" bar is enough; weight loading is instant here
    try:
        return _dispatch(args)
    except (ValueError, FileNotFoundError, OSError) as error:
        print(f"alnb {args.command}: error: {error}", file=sys.stderr)
        return 2


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "strategies":
        from alnb.strategies.registry import describe_strategies

        print(describe_strategies())
        return 0
    if args.command == "losses":
        from alnb.losses.registry import describe_losses

        print(describe_losses())
        return 0

    if args.command == "study":
        from alnb.studies import headline, run_study, summarize

        given = vars(args)
        histories = run_study(
            args.name,
            tasks=args.tasks,
            methods=args.methods,
            seeds=args.seeds,
            rounds=given.get("rounds"),
            protocol=args.protocol,
            model=given.get("model"),
            pool_size=given.get("pool_size"),
            test_size=given.get("test_size"),
            mechanism_sizes=args.mechanism_sizes,
            out=args.out,
        )
        print(headline(summarize(histories)))
        print(f"wrote histories.json, summary.json, report.md and figures to {args.out}")
        return 0

    from alnb.experiment import ExperimentConfig, compare, load_splits, parse_method

    config = config_from_args(ExperimentConfig, args)
    if args.command == "run":
        methods, adapters, seeds = [args.method], [args.adapter], [args.seed]
    else:
        methods, adapters, seeds = args.methods, args.adapters, args.seeds
    for method in methods:
        parse_method(method)  # fail fast, before any model loads
    _check_adapters(adapters)
    splits = load_splits(config)
    if splits.note:
        print(f"note: {splits.note}")
    comparison = compare(methods, adapters, seeds, config, out=args.out, data=splits)
    print(comparison.table())
    if args.out is not None:
        print(f"wrote histories.json, results.md and figures to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
