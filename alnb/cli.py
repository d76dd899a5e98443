"""Command line: ``alnb run`` (one simulated experiment) and ``alnb compare`` (methods × adapters × seeds).

Both run offline on the embedded tiny CLIP and scikit-learn's digits by default, and take any Hugging Face model id or local
folder (``--model``) and any built-in, image-folder (``folder:PATH``) or Hugging Face data set (``--dataset``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main"]


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


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text}")
    return value


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model", default=None, help="HF model id or local folder (default: the embedded tiny CLIP)"
    )
    parser.add_argument(
        "--dataset", default="digits", help="digits | glyphs | folder:PATH | HF name or saved folder"
    )
    parser.add_argument("--rounds", type=_positive, default=10, help="active-learning rounds (default 10)")
    parser.add_argument(
        "--query-size", type=_positive, default=None, help="labels per round (default: #classes)"
    )
    parser.add_argument("--epochs", type=_positive, default=10, help="training epochs per round (default 10)")
    parser.add_argument("--lr", type=float, default=0.002, help="learning rate (default 0.002, C-PEAL)")
    parser.add_argument("--batch-size", type=_positive, default=32)
    parser.add_argument("--optimizer", choices=("sgd", "adamw"), default="sgd")
    parser.add_argument(
        "--pool-size", type=_positive, default=None, help="subsample the pool (seeded) for speed"
    )
    parser.add_argument(
        "--test-size", type=_positive, default=None, help="subsample the test split for speed"
    )
    parser.add_argument(
        "--initial-strategy", default="random", help="strategy of round 0 (random, typiclust, zeroshot)"
    )
    parser.add_argument("--out", type=Path, default=None, help="output folder (histories, table, figures)")


def build_parser() -> argparse.ArgumentParser:
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
    _common(run)

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
    _common(cmp)

    study = commands.add_parser(
        "study",
        help="one of the evidence studies: cpeal | prompt-vs-lora | peal",
        description="Run a study (methods × adapters × tasks × seeds) and write histories.json, summary.json, "
        "report.md and figures. An interrupted study resumes from --out's histories.json.",
    )
    study.add_argument("name", help="cpeal | prompt-vs-lora | peal")
    study.add_argument(
        "--tasks", type=_str_list, default=None, help="comma-separated tasks (default: the study's)"
    )
    study.add_argument(
        "--methods", type=_str_list, default=None, help="comma-separated methods (default: the study's)"
    )
    study.add_argument("--seeds", type=_int_list, default=[0, 1, 2, 3, 4], help="seeds (default 0,1,2,3,4)")
    study.add_argument("--rounds", type=_positive, default=None, help="rounds (default: the protocol's, 10)")
    study.add_argument("--protocol", default="alnb", help="alnb (tuned, default) | cpeal-paper")
    study.add_argument(
        "--model", default=None, help="CLIP-family HF id or folder (default: the embedded tiny CLIP)"
    )
    study.add_argument("--pool-size", type=_positive, default=None, help="subsample each pool (seeded)")
    study.add_argument("--test-size", type=_positive, default=None, help="subsample each test split")
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


def _config(args: argparse.Namespace):
    from alnb.experiment import ExperimentConfig

    return ExperimentConfig(
        model=args.model,
        dataset=args.dataset,
        rounds=args.rounds,
        query_size=args.query_size,
        epochs=args.epochs,
        lr=args.lr,
        batch_size=args.batch_size,
        optimizer=args.optimizer,
        initial_strategy=args.initial_strategy,
        pool_size=args.pool_size,
        test_size=args.test_size,
    )


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

        histories = run_study(
            args.name,
            tasks=args.tasks,
            methods=args.methods,
            seeds=args.seeds,
            rounds=args.rounds,
            protocol=args.protocol,
            model=args.model,
            pool_size=args.pool_size,
            test_size=args.test_size,
            mechanism_sizes=args.mechanism_sizes,
            out=args.out,
        )
        print(headline(summarize(histories)))
        print(f"wrote histories.json, summary.json, report.md and figures to {args.out}")
        return 0

    from alnb.experiment import compare, parse_method

    config = _config(args)
    if args.command == "run":
        methods, adapters, seeds = [args.method], [args.adapter], [args.seed]
    else:
        methods, adapters, seeds = args.methods, args.adapters, args.seeds
    for method in methods:
        parse_method(method)  # fail fast, before any model loads
    _check_adapters(adapters)
    comparison = compare(methods, adapters, seeds, config, out=args.out)
    print(comparison.table())
    if args.out is not None:
        print(f"wrote histories.json, results.md and figures to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
