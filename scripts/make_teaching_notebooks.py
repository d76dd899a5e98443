"""Writes the teaching notebooks 03–06 into notebooks/ (kept as code so the tutorials are reviewed like code).

Each notebook asks one question, runs offline on the embedded tiny CLIP in one to two minutes on 2 CPU cores, ends
with a figure that answers it, and prints its conclusion from the numbers it just computed (the prose never states a
result the run did not produce). Run: ``.venv/bin/python scripts/make_teaching_notebooks.py``.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import nbformat as nbf

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"

# Shared first code cell: quiet libraries, a few helpers every notebook uses.
SETUP = """\
%matplotlib inline
import time

import numpy as np
from IPython.display import Markdown, display
from matplotlib.figure import Figure
from transformers.utils import logging as hf_logging

import alnb
from alnb.experiment import load_data, run_experiment
from alnb.studies import area_under_curve, get_protocol, paired_difference

hf_logging.set_verbosity_error()  # the notebook's output is the lesson, not library chatter
hf_logging.disable_progress_bar()
STARTED = time.perf_counter()
PROTOCOL = get_protocol('alnb')  # per-adapter recipes tuned on validation splits (docs/recipes.md)


def interval(diff):
    \"\"\"A paired difference as 'mean [low, high], k/n seeds above 0' (bootstrap 95 % interval of the mean).\"\"\"
    low, high = diff['interval']
    return f"{diff['mean']:+.3f} [{low:+.3f}, {high:+.3f}], {diff['wins']}/{len(diff['seeds'])} seeds above 0"


def verdict(diff, better='higher'):
    \"\"\"What a paired interval lets us say, in words.\"\"\"
    low, high = diff['interval']
    if low > 0:
        return 'higher, the interval excludes 0' if better == 'higher' else 'worse, the interval excludes 0'
    if high < 0:
        return 'lower, the interval excludes 0' if better == 'higher' else 'better, the interval excludes 0'
    return 'no detectable difference (the interval includes 0)'
"""

FOOTER = "print(f'notebook ran in {time.perf_counter() - STARTED:.0f} s')"


def md(text: str) -> nbf.NotebookNode:
    return nbf.v4.new_markdown_cell(textwrap.dedent(text).strip())


def code(text: str, *, tags: tuple[str, ...] = ()) -> nbf.NotebookNode:
    cell = nbf.v4.new_code_cell(textwrap.dedent(text).strip())
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def parameters(text: str) -> nbf.NotebookNode:
    return code(
        "# Settings (tagged 'parameters': papermill or the tests may override them). Small on purpose: the whole\n"
        "# notebook runs in a minute or two on 2 CPU cores.\n" + textwrap.dedent(text).strip(),
        tags=("parameters",),
    )


# ---------------------------------------------------------------------------------------------------- 03

NB03 = [
    md("""
    # 03 · Does calibration help?

    C-PEAL trains its model with cross-entropy **plus** a differentiable *uncertainty-calibration* loss (L_UC): it
    pushes the model to be uncertain where it is wrong and confident where it is right, so that an uncertainty-based
    strategy asks for the right images. Does the extra loss make the model better calibrated, and does that change
    what it asks for?

    We train the same CoOp prompt on the **same labeled images** three times — cross-entropy alone (`none`), CE + L_UC
    (`uc`) and, for comparison, the focal loss (`focal`) — and compare:

    1. reliability diagrams side by side, with ECE, NLL and error-detection AUROC (how well the confidence ranks the
       model's own mistakes);
    2. what each model would ask for next (entropy with class balancing, C-PEAL's strategy);
    3. over several seeds and two budgets, the paired differences, and the share of *training* samples the model gets
       wrong — the only samples L_UC's "uncertain when wrong" term can act on.
    """),
    code(SETUP),
    parameters("""
    TASK = 'digits-lt10'        # long-tailed digits (imbalance ratio 10), in the embedded model's distribution
    LOSSES = ('none', 'uc', 'focal')
    SEED = 0
    LABELS_PER_CLASS = 2        # part 1: one random draw of 2 labels per class
    SEEDS = (0, 1, 2)           # part 3: 3 seeds (the full study uses 5; fewer here for time)
    SIZES = (2, 10)             # part 3: labels per class
    TEST_SIZE = 300             # seeded subsample of the balanced test split, for speed
    """),
    code("""
    from alnb.models import load_classifier
    from alnb.plots import reliability_diagram

    train, test, names = load_data(TASK)
    test = test.select(np.sort(np.random.default_rng(0).choice(len(test), TEST_SIZE, replace=False)))
    config = PROTOCOL.experiment_config('coop', dataset=TASK)
    print(f'{TASK}: {len(train)} pool images, {len(test)} test images, classes {names}')
    print('pool images per class:', np.bincount(train['label'], minlength=len(names)).tolist())
    """),
    md("""
    ## 1 · Same labels, three losses

    Each learner draws its first batch at random with the same seed, so all three see exactly the same labeled
    images; only the training loss differs. After fitting, `end_round()` scores the test split.
    """),
    code("""
    oracle = alnb.DatasetOracle(train)
    results = {}
    for loss in LOSSES:
        classifier = load_classifier(alnb.DEFAULT_MODEL, names, adapter='coop', **config.adapter_options)
        trainer = alnb.Trainer(config.trainer_config(seed=SEED, calibration=loss))
        learner = alnb.ActiveLearner(classifier, alnb.Pool(train, names), trainer, strategy='entropy+pcb',
                                     test=test, seed=SEED, query_size=LABELS_PER_CLASS * len(names))
        first = learner.query()
        learner.teach(first.indices, oracle(first.indices), annotator='oracle')
        record = learner.fit().end_round()
        results[loss] = {
            'labeled': first.indices,
            'record': record,
            'probs': learner.last_test_predictions.probs,
            'train_error': trainer.last_fit_.epochs[-1].train_error,
            'next': learner.query().indices,
        }
    same = all(np.array_equal(r['labeled'], results['none']['labeled']) for r in results.values())
    print('all three trained on the same', len(results['none']['labeled']), 'labels:', same)
    print(f"{'loss':<7}{'accuracy':>9}{'ECE':>8}{'NLL':>8}{'AUROC':>8}   train error (last epoch)")
    for loss, r in results.items():
        m = r['record']
        print(f"{loss:<7}{m['accuracy']:>9.3f}{m['ece']:>8.3f}{m['nll']:>8.3f}{m['auroc']:>8.3f}   {r['train_error']:.3f}")
    """),
    code("""
    figure = Figure(figsize=(4.2 * len(LOSSES), 4.0), layout='constrained')
    for ax, (loss, r) in zip(figure.subplots(1, len(LOSSES)), results.items()):
        reliability_diagram(r['probs'], np.asarray(test['label']), ax=ax, title=loss)
    display(figure)
    """),
    md("""
    ## 2 · What it does to selection

    The point of calibrating is to change what the model asks for. Here is how much the next query (entropy with
    class balancing) of each model overlaps with that of the cross-entropy model.
    """),
    code("""
    reference = set(results['none']['next'].tolist())
    for loss, r in results.items():
        shared = len(reference & set(r['next'].tolist()))
        print(f'{loss:<6} next query shares {shared} of {len(reference)} images with the CE model')
    """),
    md("""
    ## 3 · Over seeds and budgets: the mechanism

    `alnb.studies.calibration_mechanism` repeats part 1 for each seed and size (one random labeled set per seed and
    size, trained once per loss) and records the training error of the last epoch. The differences are *paired*:
    same seed, same labels, only the loss changes.
    """),
    code("""
    from alnb.studies import calibration_mechanism

    records = calibration_mechanism(TASK, seeds=SEEDS, sizes=SIZES, calibrations=LOSSES, test_size=TEST_SIZE)
    METRICS = ('ece', 'nll', 'auroc')
    diffs, train_error = {}, {}
    for size in SIZES:
        rows = [r for r in records if r['labels_per_class'] == size]
        for loss in LOSSES:
            train_error[size, loss] = float(np.mean([r['train_error_last_epoch'] for r in rows if r['calibration'] == loss]))
        for loss in LOSSES[1:]:
            for metric in METRICS:
                ours = {r['seed']: r[metric] for r in rows if r['calibration'] == loss}
                base = {r['seed']: r[metric] for r in rows if r['calibration'] == 'none'}
                diffs[size, loss, metric] = paired_difference(ours, base)
    for size in SIZES:
        print(f"{size} labels/class: training error, last epoch: "
              + ', '.join(f'{loss} {train_error[size, loss]:.3f}' for loss in LOSSES))
        for loss in LOSSES[1:]:
            print(f'   {loss} - none: ' + '   '.join(f'{m} {interval(diffs[size, loss, m])}' for m in METRICS))
    """),
    md("""
    ## The answer

    Each panel: the paired difference (loss − CE) per seed (dots) and its bootstrap 95 % interval, for ECE (lower is
    better), NLL (lower is better) and AUROC (higher is better); the label gives the training error CE left.
    """),
    code("""
    figure = Figure(figsize=(12.5, 3.6), layout='constrained')
    colors = {'uc': 'tab:orange', 'focal': 'tab:green'}
    for ax, metric in zip(figure.subplots(1, len(METRICS)), METRICS):
        for y, (size, loss) in enumerate((s, l) for s in SIZES for l in LOSSES[1:]):
            d = diffs[size, loss, metric]
            low, high = d['interval']
            ax.errorbar(d['mean'], y, xerr=[[d['mean'] - low], [high - d['mean']]], fmt='o', capsize=3,
                        color=colors.get(loss))
            ax.scatter(d['differences'], [y] * len(d['differences']), s=12, alpha=0.5, color=colors.get(loss))
        ax.axvline(0, color='black', lw=0.8)
        ax.set_yticks(range(len(SIZES) * (len(LOSSES) - 1)),
                      [f'{l} − none, {s}/class (CE train err {train_error[s, "none"]:.2f})'
                       for s in SIZES for l in LOSSES[1:]], fontsize=8)
        ax.set_title(f'Δ {metric} ({"higher" if metric == "auroc" else "lower"} is better)')
    figure.suptitle(f'{TASK}: what a calibration loss changes at equal labels ({len(SEEDS)} seeds)')
    display(figure)

    lines = []
    for size in SIZES:
        d = diffs[size, 'uc', 'ece']
        ce_ece = np.mean([r['ece'] for r in records if r['labels_per_class'] == size and r['calibration'] == 'none'])
        lines.append(f'- {size} labels per class: CE left a training error of {train_error[size, "none"]:.3f}; '
                     f'L_UC changed test ECE (CE: {ce_ece:.3f}) by {interval(d)}, {abs(d["mean"]) / ce_ece:.0%} of it — '
                     f'{verdict(d, better="lower")}; '
                     f'AUROC by {interval(diffs[size, "uc", "auroc"])}.')
    d = diffs[SIZES[0], 'focal', 'ece']
    lines.append(f'- The focal loss at {SIZES[0]} labels per class changed ECE by {interval(d)} — '
                 f'{verdict(d, better="lower")}.')
    display(Markdown('**On this run:**\\n\\n' + '\\n'.join(lines)))
    """),
    md("""
    **How to read it.** C-PEAL's balanced L_UC weighs its "confident when right" term by the share of training
    samples the model gets wrong. When that share is 0 — the prompt fits its few labels — the loss has nothing to act
    on, and the model trained with it is the cross-entropy model; its test miscalibration is a generalisation gap that
    a loss on training predictions cannot see. Where the training error printed above is 0, expect differences near 0;
    where it is above 0, the loss has something to work with. The full `cpeal` study (`docs/studies/cpeal/report.md`,
    5 seeds, 1–10 labels per class, two tasks) found the same: the balanced loss changed ECE by less than 0.01, and
    its share of C-PEAL's gain over entropy + class balancing was small at best.
    """),
    code(FOOTER),
]

# ---------------------------------------------------------------------------------------------------- 04

NB04 = [
    md("""
    # 04 · Prompts or LoRA as the learner for selection?

    Active learning retrains the model every round, so the learner matters twice: how well it learns from few labels,
    and how long each round takes while a person waits. Here the same method (C-PEAL: entropy + class balancing,
    trained with CE + L_UC) drives two learners on the embedded tiny CLIP:

    - **CoOp**: learns the prompt's context vectors; the image tower is frozen, so image features are computed once
      and cached.
    - **LoRA**: low-rank updates of the attention projections (q, k, v) of both towers; every step runs the image
      tower forward and backward.

    Both train with their tuned recipe of the `alnb` protocol. We compare trainable parameters, seconds per round and
    accuracy, paired by seed (same seed = same first random batch).
    """),
    code(SETUP),
    parameters("""
    TASK = 'digits-lt10'
    METHOD = 'cpeal'
    ADAPTERS = ('coop', 'lora')
    SEEDS = (0, 1, 2)           # 3 seeds (the full study uses 5; fewer here for time)
    ROUNDS = 3                  # 10 → 30 labels
    TEST_SIZE = 300
    """),
    code("""
    from alnb.models import load_classifier
    from alnb.training import FeatureCache

    data = load_data(TASK)
    names = data[2]
    parameters = {}
    for adapter in ADAPTERS:
        options = PROTOCOL.experiment_config(adapter).adapter_options
        count, share = load_classifier(alnb.DEFAULT_MODEL, names, adapter=adapter, **options).trainable_parameters()
        parameters[adapter] = count
        print(f'{adapter:<5} {count:>8,} trainable parameters ({share:.2%} of the model); recipe {options}')
    """),
    md("""
    ## Run both learners

    `run_experiment` runs one simulated loop (the oracle answers from the label column). Runs on the same data share
    a feature cache, which only CoOp can use.
    """),
    code("""
    cache = FeatureCache()
    histories = {adapter: {} for adapter in ADAPTERS}
    for adapter in ADAPTERS:
        config = PROTOCOL.experiment_config(adapter, dataset=TASK, rounds=ROUNDS, test_size=TEST_SIZE)
        for seed in SEEDS:
            learner = run_experiment(METHOD, config, adapter=adapter, seed=seed, data=data, feature_cache=cache)
            histories[adapter][seed] = learner.history
            print(f"{adapter:<5} seed {seed}: accuracy by round",
                  [round(r['accuracy'], 3) for r in learner.history])
    """),
    code("""
    summary = {}
    for adapter, by_seed in histories.items():
        rounds = [r for h in by_seed.values() for r in h]
        summary[adapter] = {
            'final': np.array([h[-1]['accuracy'] for h in by_seed.values()]),
            'aulc': np.array([area_under_curve(h) for h in by_seed.values()]),
            'train_s': float(np.mean([r['train_seconds'] for r in rounds])),
            'query_s': float(np.mean([r['query_seconds'] for r in rounds])),
        }
    labels = histories[ADAPTERS[0]][SEEDS[0]][-1]['num_labeled']
    print(f"{'adapter':<8}{'params':>9}{'train s/round':>15}{'query s/round':>15}   "
          f'final accuracy at {labels} labels   AULC')
    for adapter, s in summary.items():
        print(f"{adapter:<8}{parameters[adapter]:>9,}{s['train_s']:>15.2f}{s['query_s']:>15.2f}   "
              f"{s['final'].mean():.3f} ± {s['final'].std():.3f}                  "
              f"{s['aulc'].mean():.3f} ± {s['aulc'].std():.3f}")
    paired = {
        metric: paired_difference({s: value(histories['lora'][s]) for s in SEEDS},
                                  {s: value(histories['coop'][s]) for s in SEEDS})
        for metric, value in (('final accuracy', lambda h: h[-1]['accuracy']), ('AULC', area_under_curve))
    }
    for metric, d in paired.items():
        print(f'LoRA − CoOp, {metric}: {interval(d)}')
    """),
    md("""
    ## The answer

    Left: accuracy against labels (mean ± std over seeds). Right: what a round costs.
    """),
    code("""
    from alnb.plots import learning_curves

    figure = Figure(figsize=(11, 4), layout='constrained')
    left, right = figure.subplots(1, 2)
    learning_curves({f'{a} ({parameters[a]:,} params)': list(histories[a].values()) for a in ADAPTERS}, ax=left,
                    title=f'{TASK}, {METHOD}, {len(SEEDS)} seeds')
    x = np.arange(len(ADAPTERS))
    right.bar(x - 0.2, [summary[a]['train_s'] for a in ADAPTERS], 0.4, label='training')
    right.bar(x + 0.2, [summary[a]['query_s'] for a in ADAPTERS], 0.4, label='query (predict pool + select)')
    right.set_xticks(x, ADAPTERS)
    right.set_ylabel('seconds per round (this machine)')
    right.legend()
    display(figure)

    d = paired['AULC']
    ratio = summary['lora']['train_s'] / summary['coop']['train_s']
    display(Markdown(
        f"**On this run:** LoRA − CoOp area under the learning curve {interval(d)} — {verdict(d)} for LoRA; "
        f"final accuracy {interval(paired['final accuracy'])}. LoRA trains {parameters['lora'] / parameters['coop']:.1f}× "
        f"as many parameters and its rounds took {ratio:.1f}× CoOp's training time."))
    """),
    md("""
    **How to read it.** A better learner is worth its cost only if a person waits for it less than they gain in
    labels. With 3 seeds and 3 rounds, an interval that includes 0 says "not told apart here", not "equal". The full
    `prompt-vs-lora` study (`docs/studies/prompt-vs-lora/report.md`, 5 seeds, 10 rounds to 100 labels) found LoRA the
    better learner on this task at a few times CoOp's training time per round, with selection helping both alike.
    """),
    code(FOOTER),
]

# ---------------------------------------------------------------------------------------------------- 05

NB05 = [
    md("""
    # 05 · PEAL: a linear probe or LoRA, out of distribution?

    PEAL argues that parameter-efficient fine-tuning (LoRA) beats a linear probe when the task is out of the
    pretraining distribution and labels are few. `glyphs-lt10` is such a task for the embedded tiny CLIP: digits and
    shapes **upside down**, in palettes and backgrounds held out of pretraining, with a long-tailed pool. We compare

    - the **linear probe** (a head on frozen image features, initialised from the zero-shot text embeddings), and
    - **LoRA** on the image tower (q, k, v), as PEAL does,

    with the same strategy (entropy with class balancing) at tiny budgets, plus random sampling for the probe.
    """),
    code(SETUP),
    parameters("""
    TASK = 'glyphs-lt10'
    STRATEGY = 'entropy+pcb'
    LINEAR_SEEDS = (0, 1, 2, 3, 4)   # the probe is cheap: 5 seeds
    LORA_SEEDS = (0, 1, 2)           # LoRA is not: 3 seeds (the full study uses 5; fewer here for time)
    ROUNDS = 3                       # C = 20 labels per round: 20 → 60 labels
    TEST_SIZE = 300
    """),
    code("""
    from alnb.models import load_classifier
    from alnb.training import FeatureCache

    data = load_data(TASK)
    train, test, names = data
    per_class = np.bincount(train['label'])
    print(f'{TASK}: {len(train)} pool images ({per_class.min()}–{per_class.max()} per class), {len(names)} classes')
    zeroshot = run_experiment('random', PROTOCOL.experiment_config('linear', dataset=TASK, rounds=1, test_size=TEST_SIZE),
                              adapter='zeroshot', data=data)
    ZERO_SHOT = zeroshot.history[0]['accuracy']
    print(f'zero-shot accuracy (no training): {ZERO_SHOT:.3f}')
    lora_options = {**PROTOCOL.experiment_config('lora').adapter_options, 'towers': 'vision'}
    for adapter, options in (('linear', {}), ('lora', lora_options)):
        count, share = load_classifier(alnb.DEFAULT_MODEL, names, adapter=adapter, **options).trainable_parameters()
        print(f'{adapter:<6} {count:>8,} trainable parameters ({share:.2%})')
    """),
    code("""
    cache = FeatureCache()
    runs = {}  # (adapter, method) -> {seed: history}
    jobs = [('linear', STRATEGY, LINEAR_SEEDS), ('linear', 'random', LINEAR_SEEDS), ('lora', STRATEGY, LORA_SEEDS)]
    for adapter, method, seeds in jobs:
        config = PROTOCOL.experiment_config(adapter, dataset=TASK, rounds=ROUNDS, test_size=TEST_SIZE)
        if adapter == 'lora':
            config.adapter_options.update(towers='vision')
        started = time.perf_counter()
        runs[adapter, method] = {
            seed: run_experiment(method, config, adapter=adapter, seed=seed, data=data, feature_cache=cache).history
            for seed in seeds
        }
        seconds = (time.perf_counter() - started) / len(seeds)
        finals = [h[-1]['accuracy'] for h in runs[adapter, method].values()]
        print(f'{adapter:<6} {method:<12} {len(seeds)} seeds, {seconds:5.1f} s per run; '
              f'final accuracy {np.mean(finals):.3f} ± {np.std(finals):.3f}')
    """),
    code("""
    def compare_runs(ours, reference):
        seeds = sorted(set(runs[ours]) & set(runs[reference]))
        return {metric: paired_difference({s: value(runs[ours][s]) for s in seeds},
                                          {s: value(runs[reference][s]) for s in seeds})
                for metric, value in (('final accuracy', lambda h: h[-1]['accuracy']), ('AULC', area_under_curve))}

    lora_vs_linear = compare_runs(('lora', STRATEGY), ('linear', STRATEGY))
    linear_vs_random = compare_runs(('linear', STRATEGY), ('linear', 'random'))
    for name, diff in (('LoRA − linear', lora_vs_linear), (f'linear: {STRATEGY} − random', linear_vs_random)):
        print(name + ': ' + '   '.join(f'{m} {interval(d)}' for m, d in diff.items()))
    """),
    md("""
    ## The answer

    Left: this run, accuracy against labels (mean ± std over seeds), with zero-shot as the floor a trained learner
    must clear. Right: the same two learners in the full `peal` study (5 seeds, 10 rounds to 200 labels), read from
    its `histories.json` when this notebook runs inside the repository — tiny budgets are where the two cross.
    """),
    code("""
    import json
    from pathlib import Path

    from alnb.plots import learning_curves

    # The study ships in the repository (docs/studies/), not in the package: look up from here and from alnb.
    places = [Path.cwd(), *Path.cwd().parents, Path(alnb.__file__).resolve().parents[1]]
    study_file = next((p / 'docs/studies/peal/histories.json' for p in places
                       if (p / 'docs/studies/peal/histories.json').is_file()), None)
    study = {}
    if study_file is not None:
        for run in json.loads(study_file.read_text())['runs']:
            if run['task'] == TASK and run['method'] == STRATEGY:
                study.setdefault(f"{run['adapter']}, {STRATEGY} (study)", []).append(run['history'])

    figure = Figure(figsize=(11 if study else 6, 4.2), layout='constrained')
    axes = figure.subplots(1, 2 if study else 1, squeeze=False)[0]
    learning_curves({f'{a}, {m} ({len(h)} seeds)': list(h.values()) for (a, m), h in runs.items()}, ax=axes[0],
                    title=f'{TASK}: this run')
    axes[0].axhline(ZERO_SHOT, color='gray', ls='--', lw=1, label='zero-shot')
    axes[0].legend(fontsize=8)
    crossover = None
    if study:
        learning_curves(study, ax=axes[1], title=f'{TASK}: the peal study, 5 seeds')
        mean = {name: np.mean([[r['accuracy'] for r in h] for h in hs], axis=0) for name, hs in study.items()}
        labels = [r['num_labeled'] for r in next(iter(study.values()))[0]]
        gap = mean[f'linear, {STRATEGY} (study)'] - mean[f'lora, {STRATEGY} (study)']
        ahead = [i for i in range(len(gap)) if (gap[i:] > 0).all()]
        crossover = labels[ahead[0]] if ahead else None
        lora_leads = [n for n, g in zip(labels, gap) if g < 0]
    display(figure)

    d = lora_vs_linear['final accuracy']
    low, high = d['interval']
    here = ('LoRA is ahead' if low > 0 else 'the probe is ahead' if high < 0 else 'the two are not told apart')
    text = (f"**On this run** ({runs['linear', STRATEGY][0][-1]['num_labeled']} labels): LoRA − linear probe with "
            f"{STRATEGY}, final accuracy {interval(d)}, so {here}; AULC {interval(lora_vs_linear['AULC'])}.")
    if crossover is not None:
        leads = f" LoRA leads at {', '.join(map(str, lora_leads))} labels and" if lora_leads else ''
        text += ' In the full study' + leads
        text += (f" the probe is ahead at every budget from {crossover} labels on, ending "
                 f"{gap[-1]:+.3f} above LoRA at {labels[-1]}: PEAL's claim (LoRA beats the probe out of distribution) "
                 "is not reproduced beyond the tiniest budgets.")
    display(Markdown(text))
    """),
    md("""
    **How to read it.** The zero-shot-initialised probe starts at zero-shot and only has to move one head; LoRA must
    move an image tower from a few dozen images, which it does faster at first and then stops gaining. Which learner
    "wins" depends on the budget, so a claim about tiny budgets should say which. One caveat from the `peal` study
    applies here too: the LoRA recipe was tuned with both towers and is used here on the image tower only.
    """),
    code(FOOTER),
]

# ---------------------------------------------------------------------------------------------------- 06

NB06 = [
    md("""
    # 06 · When does active learning beat random?

    Random sampling is a strong baseline at tiny budgets, and one run proves nothing: the first random batch alone
    moves accuracy by several points. This notebook compares strategies with random on a **balanced** and a
    **long-tailed** pool, with three cold starts for round 0 (random, TypiClust, zero-shot) and with or without class
    balancing, and reads the result the way the studies do: the **paired difference** per seed (same seed = same
    first batch), its bootstrap interval, and the win count.

    The learner is the zero-shot-initialised **linear probe** (the cheap learner of notebook 05), so that five seeds
    of every method fit in a minute; the `cpeal` study ran CoOp.
    """),
    code(SETUP),
    parameters("""
    TASKS = ('glyphs', 'glyphs-lt10')   # balanced pool vs long-tailed pool (imbalance ratio 10), same test split
    METHODS = ('random', 'entropy', 'entropy+pcb', 'entropy+pcb/typiclust', 'entropy+pcb/zeroshot')
    SEEDS = (0, 1, 2, 3, 4)
    ROUNDS = 8                           # C = 20 labels per round: 20 → 160 labels
    TEST_SIZE = 500
    """),
    md("""
    `method/COLD_START` sets the strategy of round 0, when nothing is labeled yet; `+pcb` is C-PEAL's class
    balancing. A study is a `Study` (methods × adapters × tasks) run by `run_study`, summarised by `summarize`.
    """),
    code("""
    from alnb.studies import Study, run_study, summarize

    study = Study('when-does-al-beat-random', 'When does active learning beat random?', methods=METHODS,
                  adapters=('linear',), tasks=TASKS, references=('random',))
    histories = run_study(study, seeds=SEEDS, rounds=ROUNDS, test_size=TEST_SIZE, progress=False)
    summary = summarize(histories)
    for task, info in summary['tasks'].items():
        print(task)
        for label, cell in info['methods'].items():
            final, aulc = cell['final_accuracy'], cell['aulc']
            print(f"  {label:<32} final accuracy {final['mean']:.3f} ± {final['std']:.3f}   "
                  f"AULC {aulc['mean']:.3f} ± {aulc['std']:.3f}")
    """),
    md("""
    ## Seed variance first

    Random's own spread over seeds is the yardstick: a method whose mean is above random's by less than that spread
    may still win reliably, because the same seed gives both the same first batch, so the *paired* difference cancels
    the luck of the draw.
    """),
    code("""
    from alnb.plots import learning_curves

    figure = Figure(figsize=(11, 4), layout='constrained')
    for ax, task in zip(figure.subplots(1, len(TASKS)), TASKS):
        curves = {}
        for run in histories['runs']:
            if run['task'] == task:
                curves.setdefault(run['method'], []).append(run['history'])
        learning_curves(curves, ax=ax, title=f'{task} (mean ± std, {len(SEEDS)} seeds)')
        ax.legend(fontsize=7)
    display(figure)

    for task, info in summary['tasks'].items():
        aulc = info['methods']['random [linear]']['aulc']
        print(f"{task}: random's AULC varies by ± {aulc['std']:.3f} (std over seeds)")
    """),
    code("""
    paired = {task: {p['method'].removesuffix(' [linear]'): p for p in info['paired'] if p['metric'] == 'aulc'}
              for task, info in summary['tasks'].items()}
    for task, by_method in paired.items():
        print(f'{task}: Δ AULC vs random, mean [95 % bootstrap interval] wins/seeds')
        for method, p in by_method.items():
            three = paired_difference(dict(zip(p['seeds'][:3], p['differences'][:3])), {s: 0.0 for s in p['seeds'][:3]})
            print(f'  {method:<24} {interval(p)}   (first 3 seeds only: {interval(three)})')
    """),
    md("""
    The right-hand column is the same comparison with only three seeds: the interval widens and sometimes moves —
    which is why the studies use five and print the win count beside the interval.

    ## The answer

    Each row: one method minus random, per seed (dots) and the bootstrap 95 % interval of the mean (green: excludes 0
    above, red: below, gray: includes 0).
    """),
    code("""
    figure = Figure(figsize=(11, 3.8), layout='constrained')
    for ax, (task, by_method) in zip(figure.subplots(1, len(TASKS), sharex=True), paired.items()):
        for y, (method, p) in enumerate(by_method.items()):
            low, high = p['interval']
            color = 'tab:green' if low > 0 else 'tab:red' if high < 0 else 'tab:gray'
            ax.errorbar(p['mean'], y, xerr=[[p['mean'] - low], [high - p['mean']]], fmt='o', capsize=3, color=color)
            ax.scatter(p['differences'], [y] * len(p['differences']), s=12, alpha=0.5, color=color)
        ax.axvline(0, color='black', lw=0.8)
        ax.set_yticks(range(len(by_method)), [f'{m} − random' for m in by_method], fontsize=8)
        ax.set_xlabel('paired Δ AULC per seed')
        ax.set_title(task)
    display(figure)

    lines = []
    for task, by_method in paired.items():
        winners = [m for m, p in by_method.items() if p['interval'][0] > 0]
        best = max(by_method, key=lambda m: by_method[m]['mean'])
        lines.append(f"- `{task}`: {len(winners)} of {len(by_method)} methods beat random with an interval above 0"
                     f"{' (' + ', '.join(winners) + ')' if winners else ''}; the largest mean gain is {best}, "
                     f"{interval(by_method[best])}.")
    for task in TASKS:
        p, q = paired[task].get('entropy+pcb'), paired[task].get('entropy')
        if p and q:
            lines.append(f'- `{task}`: class balancing adds {p["mean"] - q["mean"]:+.3f} AULC to entropy '
                         f'(entropy+pcb {p["mean"]:+.3f} vs entropy {q["mean"]:+.3f} over random).')
    display(Markdown('**On this run:**\\n\\n' + '\\n'.join(lines)))
    """),
    md("""
    **How to read it.** Uncertainty sampling should pay where random is wasteful: on a long-tailed pool random keeps
    drawing the head classes, and class balancing is meant to reach the tail — the last lines above say whether it
    added anything over plain entropy on this run. A cold start matters most when few rounds follow it. With five
    seeds a percentile bootstrap interval is optimistic (narrow): read the win counts as well, and trust a difference
    that holds on a second task. The full `cpeal` study
    (`docs/studies/cpeal/report.md`, CoOp, 10 rounds) found C-PEAL with a TypiClust cold start ahead of random, with
    intervals excluding 0, on both long-tailed pools it ran.
    """),
    code(FOOTER),
]

NOTEBOOK_CELLS = {
    "03_does_calibration_help.ipynb": NB03,
    "04_prompts_or_lora.ipynb": NB04,
    "05_peal_linear_or_lora.ipynb": NB05,
    "06_when_does_active_learning_beat_random.ipynb": NB06,
}


def main() -> None:
    for name, cells in NOTEBOOK_CELLS.items():
        notebook = nbf.v4.new_notebook(cells=cells)
        notebook.metadata["kernelspec"] = {
            "name": "python3",
            "display_name": "Python 3",
            "language": "python",
        }
        notebook.metadata["language_info"] = {"name": "python"}
        for number, cell in enumerate(notebook.cells):
            cell["id"] = f"cell-{number:02d}"  # stable ids: regenerating gives the same file
        nbf.validate(notebook)
        nbf.write(notebook, NOTEBOOKS / name)
        print("wrote", NOTEBOOKS / name)


if __name__ == "__main__":
    main()
