"""Summaries, reports and figures of a study, computed from its histories alone.

``summarize(histories)`` gives every number ``report.md`` prints: per task and method (``"method [adapter]"``) the final
accuracy, the area under the learning curve (AULC), final ECE and error-detection AUROC (mean ± std over seeds), the
labels needed to reach random's final accuracy, selection and training seconds per round; paired per-seed differences
against each reference method (and between the two adapters of a two-adapter study) with bootstrap 95 % intervals and
win counts; and the calibration-mechanism table.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from alnb.studies.stats import area_under_curve, labels_to_reach, paired_difference

__all__ = ["headline", "summarize", "write_study"]


def _label(run: Mapping[str, Any]) -> str:
    return f"{run['method']} [{run['adapter']}]"


def _spread(values: Sequence[float]) -> dict[str, float]:
    data = np.asarray(values, dtype=np.float64)
    return {"mean": float(data.mean()), "std": float(data.std()), "n": len(data)}


def _references(histories: Mapping[str, Any]) -> tuple[str, ...]:
    from alnb.studies.study import STUDIES

    study = STUDIES.get(histories.get("study", ""))
    return study.references if study is not None else ("random",)


def summarize(histories: Mapping[str, Any]) -> dict[str, Any]:
    """Every figure of the study's report, from ``histories.json``'s content (see the module documentation)."""
    runs = histories["runs"]
    tasks: dict[str, Any] = {}
    for task in dict.fromkeys(r["task"] for r in runs):
        task_runs = [r for r in runs if r["task"] == task]
        by_label: dict[str, dict[int, Mapping[str, Any]]] = {}
        for run in task_runs:
            by_label.setdefault(_label(run), {})[int(run["seed"])] = run
        adapters = list(dict.fromkeys(r["adapter"] for r in task_runs))
        targets = {}
        for adapter in adapters:
            random_runs = by_label.get(f"random [{adapter}]")
            if random_runs:
                targets[adapter] = float(
                    np.mean([r["history"][-1]["accuracy"] for r in random_runs.values()])
                )
        methods = {}
        for label, seeded in by_label.items():
            histories_ = [r["history"] for r in seeded.values()]
            adapter = next(iter(seeded.values()))["adapter"]
            target = targets.get(adapter)
            reach = [labels_to_reach(h, target) for h in histories_] if target is not None else []
            reached = [x for x in reach if np.isfinite(x)]
            methods[label] = {
                "method": next(iter(seeded.values()))["method"],
                "adapter": adapter,
                "seeds": sorted(seeded),
                "final_labels": int(histories_[0][-1]["num_labeled"]),
                "final_accuracy": _spread([h[-1]["accuracy"] for h in histories_]),
                "aulc": _spread([area_under_curve(h) for h in histories_]),
                "final_ece": _spread([h[-1]["ece"] for h in histories_]),
                "final_auroc": _spread([h[-1].get("auroc", float("nan")) for h in histories_]),
                "labels_to_target": {
                    "target": target,
                    "median": float(np.median(reach)) if reach else None,
                    "reached": len(reached),
                },
                "selection_seconds_per_round": float(
                    np.mean([r["query_seconds"] for h in histories_ for r in h])
                ),
                "training_seconds_per_round": float(
                    np.mean([r["train_seconds"] for h in histories_ for r in h])
                ),
            }
        for label, seeded in by_label.items():
            rounds = [r for run in seeded.values() for r in run["history"] if "pseudo_labeled" in r]
            if rounds:  # selective querying (cbsq): labels the model gave instead of a person
                saved = sum(int(r["pseudo_labeled"]) for r in rounds)
                checked = [r for r in rounds if "pseudo_correct" in r]
                right = sum(int(r["pseudo_correct"]) for r in checked)
                methods[label]["pseudo_labels"] = {
                    "per_run": saved / len(seeded),
                    "correct_share": right / max(1, sum(int(r["pseudo_labeled"]) for r in checked))
                    if checked
                    else None,
                }
        paired = []
        comparisons = [
            (label, f"{ref} [{methods[label]['adapter']}]")
            for label in methods
            for ref in _references(histories)
            if f"{ref} [{methods[label]['adapter']}]" in methods and not label.startswith(f"{ref} [")
        ]
        if len(adapters) == 2:
            first, second = adapters
            comparisons += [
                (label, label.replace(f"[{second}]", f"[{first}]"))
                for label in methods
                if label.endswith(f"[{second}]") and label.replace(f"[{second}]", f"[{first}]") in methods
            ]
        for ours, reference in comparisons:
            for metric, value in (
                ("final_accuracy", lambda h: h[-1]["accuracy"]),
                ("aulc", area_under_curve),
            ):
                diff = paired_difference(
                    {s: value(r["history"]) for s, r in by_label[ours].items()},
                    {s: value(r["history"]) for s, r in by_label[reference].items()},
                )
                paired.append({"method": ours, "reference": reference, "metric": metric, **diff})
        tasks[task] = {"target_accuracy": targets, "methods": methods, "paired": paired}
    return {
        "study": histories.get("study"),
        "question": histories.get("question"),
        "config": histories.get("config", {}),
        "tasks": tasks,
        "mechanism": _summarize_mechanism(histories.get("mechanism") or []),
    }


_MECHANISM_METRICS = ("accuracy", "ece", "nll", "auroc", "train_error_last_epoch")


def _summarize_mechanism(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for task in dict.fromkeys(r["task"] for r in records):
        rows = [r for r in records if r["task"] == task]
        calibrations = list(dict.fromkeys(r["calibration"] for r in rows))
        per_size: dict[str, Any] = {}
        for size in sorted({int(r["labels_per_class"]) for r in rows}):
            cells: dict[str, Any] = {}
            for calibration in calibrations:
                chosen = [
                    r for r in rows if r["labels_per_class"] == size and r["calibration"] == calibration
                ]
                cells[calibration] = {m: _spread([r[m] for r in chosen]) for m in _MECHANISM_METRICS}
            base = calibrations[0]
            for other in calibrations[1:]:
                cells[f"{other} - {base}"] = {
                    m: paired_difference(
                        {
                            r["seed"]: r[m]
                            for r in rows
                            if r["labels_per_class"] == size and r["calibration"] == other
                        },
                        {
                            r["seed"]: r[m]
                            for r in rows
                            if r["labels_per_class"] == size and r["calibration"] == base
                        },
                    )
                    for m in ("accuracy", "ece", "nll", "auroc")
                }
            per_size[str(size)] = cells
        out[task] = per_size
    return out


# ---------------------------------------------------------------- text


def _pm(cell: Mapping[str, float], digits: int = 3) -> str:
    return f"{cell['mean']:.{digits}f} ± {cell['std']:.{digits}f}"


def _interval(diff: Mapping[str, Any]) -> str:
    low, high = diff["interval"]
    mark = " *" if diff["excludes_zero"] else ""
    return f"{diff['mean']:+.3f} [{low:+.3f}, {high:+.3f}] {diff['wins']}/{len(diff['seeds'])}{mark}"


def headline(summary: Mapping[str, Any]) -> str:
    """A short plain-text table: per task and method, final accuracy and the paired AULC difference to random."""
    lines = []
    for task, info in summary["tasks"].items():
        lines.append(f"{task}")
        aulc_vs_random = {
            p["method"]: p
            for p in info["paired"]
            if p["metric"] == "aulc"
            and p["reference"] == f"random [{info['methods'][p['method']]['adapter']}]"
        }
        for label, cell in info["methods"].items():
            diff = aulc_vs_random.get(label)
            extra = f"   AULC vs random {_interval(diff)}" if diff else ""
            lines.append(
                f"  {label:<28} final acc {_pm(cell['final_accuracy'])}  AULC {_pm(cell['aulc'])}{extra}"
            )
    return "\n".join(lines)


def _markdown(summary: Mapping[str, Any]) -> str:
    config = summary["config"]
    lines = [
        f"# Study `{summary['study']}`",
        "",
        f"**Question.** {summary['question']}",
        "",
        f"Protocol `{config.get('protocol')}`, {config.get('rounds')} rounds; pool subsample {config.get('pool_size')}, "
        f"test subsample {config.get('test_size')} (None = whole split). Every figure below is recomputed from "
        "`histories.json` by `alnb.studies.summarize`. ± is the standard deviation over seeds; paired differences are "
        "per seed (same seed = same round-0 draw), shown as mean [bootstrap 95 % interval] wins/seeds, `*` where the "
        "interval excludes 0. AULC = area under the accuracy-vs-labels curve divided by the label range. With 5 seeds a "
        "percentile bootstrap interval is optimistic (narrow); read the win counts beside it.",
        "",
    ]
    for task, info in summary["tasks"].items():
        targets = ", ".join(f"{a}: {t:.3f}" for a, t in info["target_accuracy"].items())
        lines += [
            f"## {task}",
            "",
            f"Target accuracy for *labels to target* = random's mean final accuracy ({targets or 'no random run'}).",
            "",
            "| method | seeds | final acc | AULC | final ECE | final AUROC | labels to target (reached) | "
            "query s/round (score + select) | train s/round |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for label, cell in info["methods"].items():
            reach = cell["labels_to_target"]
            median = (
                "–"
                if reach["median"] is None
                else ("never" if not np.isfinite(reach["median"]) else f"{reach['median']:.0f}")
            )
            lines.append(
                f"| {label} | {len(cell['seeds'])} | {_pm(cell['final_accuracy'])} | {_pm(cell['aulc'])} | "
                f"{_pm(cell['final_ece'])} | {_pm(cell['final_auroc'])} | "
                f"{median} ({reach['reached']}/{len(cell['seeds'])}) | "
                f"{cell['selection_seconds_per_round']:.3f} | {cell['training_seconds_per_round']:.3f} |"
            )
        for label, cell in info["methods"].items():
            if "pseudo_labels" in cell:
                pseudo = cell["pseudo_labels"]
                right = "" if pseudo["correct_share"] is None else f", {100 * pseudo['correct_share']:.0f} % right"
                lines += [
                    "",
                    f"Selective querying, {label}: {pseudo['per_run']:.1f} pseudo-labels per run (free of budget; "
                    f"not in `num_labeled`){right}.",
                ]
        if info["paired"]:
            lines += ["", "| method | vs | Δ final acc | Δ AULC |", "|---|---|---|---|"]
            pairs: dict[tuple[str, str], dict[str, Any]] = {}
            for p in info["paired"]:
                pairs.setdefault((p["method"], p["reference"]), {})[p["metric"]] = p
            for (ours, ref), metrics in pairs.items():
                lines.append(
                    f"| {ours} | {ref} | {_interval(metrics['final_accuracy'])} | {_interval(metrics['aulc'])} |"
                )
        lines.append("")
    if summary["mechanism"]:
        lines += [
            "## The mechanism alone: CE vs CE + calibration loss on the same random labeled sets",
            "",
            "| task | labels/class | loss | accuracy | ECE | NLL | AUROC | train error, last epoch |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for task, sizes in summary["mechanism"].items():
            for size, cells in sizes.items():
                for name, cell in cells.items():
                    if " - " in name:
                        lines.append(
                            f"| {task} | {size} | **{name}** | {_interval(cell['accuracy'])} | {_interval(cell['ece'])} | "
                            f"{_interval(cell['nll'])} | {_interval(cell['auroc'])} | |"
                        )
                    else:
                        lines.append(
                            f"| {task} | {size} | {name} | {_pm(cell['accuracy'])} | {_pm(cell['ece'])} | "
                            f"{_pm(cell['nll'])} | {_pm(cell['auroc'])} | {_pm(cell['train_error_last_epoch'])} |"
                        )
        lines.append("")
    return "\n".join(lines)


# ---------------------------------------------------------------- figures


def _figures(histories: Mapping[str, Any], summary: Mapping[str, Any], out: Path) -> list[Path]:
    import matplotlib.pyplot as plt

    from alnb.plots import learning_curves

    written: list[Path] = []
    tasks = list(summary["tasks"])
    if not tasks:
        return written
    fig, axes = plt.subplots(1, len(tasks), figsize=(5.5 * len(tasks), 4.2), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        curves: dict[str, list[Any]] = {}
        for run in histories["runs"]:
            if run["task"] == task:
                curves.setdefault(_label(run), []).append(run["history"])
        learning_curves(curves, metric="accuracy", ax=ax, title=task)
    axes[0][-1].legend(fontsize=7, loc="lower right")
    path = out / "learning_curves.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    written.append(path)

    fig, axes = plt.subplots(1, len(tasks), figsize=(5.0 * len(tasks), 0.35 * 12 + 1.5), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        pairs = [p for p in summary["tasks"][task]["paired"] if p["metric"] == "aulc"]
        for y, p in enumerate(pairs):
            low, high = p["interval"]
            color = "tab:green" if low > 0 else "tab:red" if high < 0 else "tab:gray"
            ax.errorbar(
                p["mean"], y, xerr=[[p["mean"] - low], [high - p["mean"]]], fmt="o", color=color, capsize=3
            )
            ax.scatter(p["differences"], [y] * len(p["differences"]), s=8, color=color, alpha=0.4)
        ax.axvline(0.0, color="black", linewidth=0.8)
        ax.set_yticks(range(len(pairs)), [f"{p['method']} − {p['reference']}" for p in pairs], fontsize=7)
        ax.set_xlabel("paired Δ AULC (per seed, bootstrap 95 % CI)")
        ax.set_title(task)
    path = out / "paired_differences.png"
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    written.append(path)
    return written


def write_study(histories: Mapping[str, Any], out: Path) -> dict[str, Any]:
    """Write ``summary.json``, ``report.md``, ``learning_curves.png`` and ``paired_differences.png`` into ``out`` (the
    histories themselves are written by :func:`alnb.studies.run_study`); returns the summary."""
    out.mkdir(parents=True, exist_ok=True)
    summary = summarize(histories)
    (out / "summary.json").write_text(json.dumps(summary, indent=1, allow_nan=True))
    (out / "report.md").write_text(_markdown(summary))
    _figures(histories, summary, out)
    return summary
