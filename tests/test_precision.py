"""Mixed precision: ``None`` defers to accelerate's setting, and trainers with different precisions share a
process (accelerate itself keeps one precision per process and refuses a second one)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import COLOR_NAMES
from datasets import Dataset

from alnb.models import load_classifier
from alnb.training import Trainer, TrainerConfig
from alnb.training.trainer import cpu_supports_bf16

NAMES = list(COLOR_NAMES)
TRAIN = np.arange(16, dtype=np.int64)


def test_default_is_none_and_bad_values_name_the_argument() -> None:
    assert TrainerConfig().mixed_precision is None
    with pytest.raises(ValueError, match=r"mixed_precision must be one of 'bf16', 'fp16', 'no'; got 'fp8'"):
        TrainerConfig(mixed_precision="fp8")


def _fit_dtypes(precision: str, clip_dir: str, dataset: Dataset) -> set[torch.dtype]:
    """Fit a CoOp prompt at ``precision``; the dtypes the text projection computed in while training."""
    clf = load_classifier(clip_dir, NAMES, adapter="coop", n_ctx=2)
    seen: set[torch.dtype] = set()

    def record(module: torch.nn.Module, inputs: object, output: torch.Tensor) -> None:
        if module.training or torch.is_grad_enabled():
            seen.add(output.dtype)

    hook = clf.backbone.text_projection.register_forward_hook(record)
    config = TrainerConfig(epochs=2, batch_size=8, warmup_epochs=0, mixed_precision=precision, quiet=True)
    labels = np.asarray(dataset["label"], dtype=np.int64)[TRAIN]
    try:
        trainer = Trainer(config).fit(clf, dataset, TRAIN, labels)
    finally:
        hook.remove()
    assert trainer.last_fit_.trained and np.isfinite(trainer.last_fit_.losses).all()
    return seen


@pytest.mark.skipif(
    torch.cuda.is_available() or not cpu_supports_bf16(),
    reason="needs a CPU-only machine whose torch autocast supports bfloat16 (it does not here)",
)
def test_trainers_with_different_precisions_share_one_process(clip_dir: str, color_dataset: Dataset) -> None:
    # Whatever precision accelerate's process-wide state was created with, each trainer keeps its own.
    assert _fit_dtypes("no", clip_dir, color_dataset) == {torch.float32}
    assert _fit_dtypes("bf16", clip_dir, color_dataset) == {torch.bfloat16}
    assert _fit_dtypes("no", clip_dir, color_dataset) == {torch.float32}


def test_none_uses_accelerates_setting() -> None:
    code = (
        "from alnb.training import Trainer, TrainerConfig\n"
        "print(Trainer(TrainerConfig(quiet=True))._accelerator().mixed_precision)\n"
    )
    env = {**os.environ, "ACCELERATE_MIXED_PRECISION": "bf16", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=240, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "bf16"
