"""Run by tests/test_trainer.py in two CPU processes under ``accelerate launch``: fit + predict, tiny model.

Usage: accelerate launch ... accelerate_worker.py MODEL_DIR DATASET_DIR OUT_DIR ADAPTER[,ADAPTER...]

``round`` in the list runs one active-learning round (fit, pool scoring, query) and every process writes the
queries it made to ``OUT_DIR/round_queries_<rank>.json``. For each adapter, every process writes its trained parameters to
``OUT_DIR/<adapter>/params_<rank>.safetensors``; the main process also writes the predictions, the saved
adapter and a small JSON report there. CoOp's feature cache lives on disk in ``OUT_DIR/coop/features``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import torch
from datasets import Dataset, load_from_disk
from safetensors.torch import save_file

from alnb.models import load_classifier
from alnb.training import FeatureCache, Trainer, TrainerConfig

NAMES = ["red", "green", "blue", "yellow"]


def run(model_dir: str, dataset: Dataset, out: Path, adapter: str) -> None:
    labels = np.asarray(dataset["label"], dtype=np.int64)
    train = np.arange(0, 30, dtype=np.int64)  # 30 rows: the processes get unequal shares of the last batch
    order = np.random.default_rng(0).permutation(64)[:45].astype(np.int64)  # any order, any length
    classifier = load_classifier(model_dir, NAMES, adapter=adapter)
    config = TrainerConfig(epochs=3, lr=0.02, optimizer="adamw", batch_size=8, warmup_epochs=0, quiet=True)
    # CoOp's features go to one folder both processes share (only the main process writes it).
    trainer = Trainer(config, feature_cache=FeatureCache(out / "features") if adapter == "coop" else None)
    trainer.fit(classifier, dataset, train, labels[train])
    predictions = trainer.predict(classifier, dataset, order)
    accelerator = trainer.accelerator_
    out.mkdir(exist_ok=True)
    params = {n: p.detach().contiguous() for n, p in classifier.named_parameters() if p.requires_grad}
    save_file(params, str(out / f"params_{accelerator.process_index}.safetensors"))
    if accelerator.is_main_process:
        classifier.save_adapter(out / "adapter")
        save_file(
            {
                "indices": torch.from_numpy(predictions.indices),
                "logits": predictions.logits.contiguous(),
                "embeddings": predictions.embeddings.contiguous(),
            },
            str(out / "predictions.safetensors"),
        )
        report = {
            "num_processes": accelerator.num_processes,
            "losses": trainer.last_fit_.losses,
            "used_feature_cache": trainer.last_fit_.used_feature_cache,
        }
        (out / "report.json").write_text(json.dumps(report))
    accelerator.wait_for_everyone()


def active_learning_round(model_dir: str, dataset: Dataset) -> dict[str, list[int]]:
    """One active-learning round (cold-start query, labels, fit, pool scoring, query): the queries it made.

    The test runs this in one process too: the queries must be the same.
    """
    from alnb import ActiveLearner, DatasetOracle, Pool

    config = TrainerConfig(epochs=2, lr=0.02, optimizer="adamw", batch_size=8, warmup_epochs=0, quiet=True)
    learner = ActiveLearner(
        load_classifier(model_dir, NAMES, adapter="coop"),
        Pool(dataset, NAMES),
        Trainer(config),
        "entropy+pcb",
        query_size=6,
        seed=0,
    )
    oracle = DatasetOracle(dataset)
    first = learner.query()
    learner.teach(first.indices, oracle(first.indices))
    learner.fit()
    second = learner.query()
    return {"first": first.indices.tolist(), "second": second.indices.tolist()}


def main(model_dir: str, dataset_dir: str, out_dir: str, adapters: str) -> None:
    torch.set_num_threads(1)
    dataset = load_from_disk(dataset_dir)
    for adapter in adapters.split(","):
        if adapter == "round":
            queries = active_learning_round(model_dir, dataset)
            (Path(out_dir) / f"round_queries_{os.environ.get('RANK', '0')}.json").write_text(json.dumps(queries))
            continue
        run(model_dir, dataset, Path(out_dir) / adapter, adapter)


if __name__ == "__main__":
    main(*sys.argv[1:5])
