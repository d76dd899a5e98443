"""Every adapter on every model it supports, generated from the adapter registry (tests/contracts.py): training lowers
the loss, only adapter parameters change, save/load round-trips, resets are fresh initialisations, and the calibration
loss reaches the gradient. An adapter that trains nothing (zero-shot) is checked to change nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import COLOR_NAMES
from contracts import adapter_matrix
from datasets import Dataset

from alnb.models import load_classifier

NAMES = list(COLOR_NAMES)


@pytest.mark.parametrize(("model", "adapter", "check"), adapter_matrix())
def test_adapter_contract(
    model_dirs: dict[str, str], color_dataset: Dataset, tmp_path: Path, model: str, adapter: str, check: Any
) -> None:
    check(model_dirs[model], adapter, color_dataset, tmp_path=tmp_path)


def test_load_checks_the_adapter_config(clip_dir: str, tmp_path: Path) -> None:
    load_classifier(clip_dir, NAMES, adapter="coop", n_ctx=4).save_adapter(tmp_path)
    with pytest.raises(ValueError, match=r"config: saved .*'n_ctx': 4.*'n_ctx': 8"):
        load_classifier(clip_dir, NAMES, adapter="coop", n_ctx=8).load_adapter(tmp_path)
    with pytest.raises(ValueError, match="adapter: saved 'coop', this classifier 'vpt'"):
        load_classifier(clip_dir, NAMES, adapter="vpt").load_adapter(tmp_path)
    with pytest.raises(FileNotFoundError, match=r"alnb_adapter\.json is missing"):
        load_classifier(clip_dir, NAMES, adapter="coop").load_adapter(tmp_path / "empty")
