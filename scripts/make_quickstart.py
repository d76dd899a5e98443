"""Writes notebooks/01_quickstart.ipynb (kept as code so the tutorial is reviewed like code)."""

from pathlib import Path

import nbformat as nbf

cells = [
    nbf.v4.new_markdown_cell(
        "# alnb quickstart: calibrated active learning, one round at a time\n\n"
        "This notebook runs a simulated active-learning loop on scikit-learn's handwritten digits with the embedded tiny "
        "CLIP, fully offline. Each round the model asks for 10 labels (one per class, as in C-PEAL), an *oracle* answers "
        "from the data set's label column, the CoOp prompt is retrained, and we look at accuracy and calibration.\n\n"
        "The method is **C-PEAL**: entropy sampling with class balancing, on a model trained with cross-entropy plus the "
        "uncertainty-calibration loss. We compare it with plain random sampling at the end."
    ),
    nbf.v4.new_code_cell(
        "%matplotlib inline\n"
        "import numpy as np\n"
        "import alnb\n"
        "from alnb.datasets import load, class_names\n"
        "from alnb.models import load_classifier\n"
        "from alnb.plots import learning_curves, reliability_diagram\n\n"
        "SEED = 0\n"
        "digits = load('digits')\n"
        "train, test = digits['train'], digits['test']\n"
        "names = class_names(train)\n"
        "print(len(train), 'pool images,', len(test), 'test images; classes:', names)"
    ),
    nbf.v4.new_markdown_cell(
        "## The model: the embedded tiny CLIP with a CoOp prompt\n\n"
        "`load_classifier` takes any Hugging Face model id or folder; the default is the tiny CLIP that alnb ships. Only "
        "the prompt's context vectors train."
    ),
    nbf.v4.new_code_cell(
        "classifier = load_classifier(alnb.DEFAULT_MODEL, names, adapter='coop')\n"
        "count, share = classifier.trainable_parameters()\n"
        "print(f'{count:,} trainable parameters ({share:.2%} of the model)')"
    ),
    nbf.v4.new_markdown_cell(
        "## Pool, trainer, learner\n\n"
        "Every index is a dataset-wide index. The trainer re-initialises the prompt each round and trains 10 epochs with "
        "SGD; `calibration='uc'` adds C-PEAL's uncertainty-calibration loss with its annealed weight."
    ),
    nbf.v4.new_code_cell(
        "pool = alnb.Pool(train, names)  # in memory; pass store=alnb.LabelStore('labels.jsonl', names) to persist\n"
        "trainer = alnb.Trainer(alnb.TrainerConfig(epochs=10, calibration='uc', seed=SEED, quiet=True))\n"
        "learner = alnb.ActiveLearner(classifier, pool, trainer, strategy='entropy+pcb', budget=60, test=test, seed=SEED)\n"
        "oracle = alnb.DatasetOracle(train)  # stands in for a person"
    ),
    nbf.v4.new_markdown_cell(
        "## Step through the rounds\n\n"
        "`query()` → `teach()` → `fit()` → `end_round()` is the non-blocking step API the labeling widget uses too. Round 0 "
        "is random (nothing is labeled yet); later rounds use the strategy."
    ),
    nbf.v4.new_code_cell(
        "query = learner.query()\n"
        "print('round', query.round, 'strategy', query.strategy)\n"
        "print('asked for dataset indices', query.indices.tolist())\n"
        "learner.teach(query.indices, oracle(query.indices), annotator='oracle')\n"
        "learner.fit()\n"
        "record = learner.end_round()\n"
        "print({k: round(v, 3) for k, v in record.items() if k in ('num_labeled', 'accuracy', 'ece', 'nll', 'auroc')})"
    ),
    nbf.v4.new_code_cell(
        "from IPython.display import display\n\n"
        "while learner.remaining_budget:\n"
        "    query = learner.query()\n"
        "    print(f'round {query.round}: scores of the asked items', np.round(query.scores, 2).tolist())\n"
        "    learner.teach(query.indices, oracle(query.indices), annotator='oracle')\n"
        "    record = learner.fit().end_round()\n"
        "    print(f\"  {record['num_labeled']} labels: accuracy {record['accuracy']:.3f}, ECE {record['ece']:.3f}, \"\n"
        "          f\"classes asked {record['queried_class_histogram']}\")"
    ),
    nbf.v4.new_markdown_cell("## Calibration after the last round"),
    nbf.v4.new_code_cell(
        "predictions = trainer.predict(classifier, test, np.arange(len(test)))\n"
        "display(reliability_diagram(predictions.probs, np.asarray(test['label'])))"
    ),
    nbf.v4.new_markdown_cell(
        "## Compare with random sampling\n\n"
        "Same seed, same budget, a fresh classifier. At such tiny budgets seeds vary a lot: `alnb compare` runs several."
    ),
    nbf.v4.new_code_cell(
        "baseline = alnb.ActiveLearner(\n"
        "    load_classifier(alnb.DEFAULT_MODEL, names, adapter='coop'), alnb.Pool(train, names),\n"
        "    alnb.Trainer(alnb.TrainerConfig(epochs=10, seed=SEED, quiet=True)), strategy='random', budget=60,\n"
        "    test=test, seed=SEED)\n"
        "baseline.run(rounds=10, progress=False)\n"
        "runs = {'C-PEAL (entropy+pcb, uc)': [learner.history], 'random': [baseline.history]}\n"
        "display(learning_curves(runs, metric='accuracy'))\n"
        "display(learning_curves(runs, metric='ece'))"
    ),
    nbf.v4.new_markdown_cell(
        "## Save and resume\n\n"
        "`save` writes the settings, history and adapter weights; `ActiveLearner.load` resumes, and the next query is the "
        "one the uninterrupted run would have made."
    ),
    nbf.v4.new_code_cell(
        "import tempfile\n"
        "folder = tempfile.mkdtemp()\n"
        "learner.budget = 70\n"
        "learner.save(folder)\n"
        "resumed = alnb.ActiveLearner.load(folder, train, test=test)\n"
        "same = np.array_equal(resumed.query().indices, learner.query().indices)\n"
        "print('resumed after', resumed.round, 'rounds; next query identical:', same)"
    ),
]
notebook = nbf.v4.new_notebook(cells=cells)
notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
out = Path(__file__).resolve().parents[1] / "notebooks" / "01_quickstart.ipynb"
nbf.write(notebook, out)
print("wrote", out)
