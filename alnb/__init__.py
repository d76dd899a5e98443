"""alnb: calibrated active learning of vision-language models with parameter-efficient fine-tuning, native to Jupyter.

The core never imports ipywidgets; the notebook UI lives in :mod:`alnb.widgets`. Heavy parts (transformers models, the
accelerate trainer, matplotlib plots) load on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from alnb.embedded import DEFAULT_MODEL
from alnb.learner import ActiveLearner, DatasetOracle, NonFinitePredictionsError, Query
from alnb.losses import CalibratedObjective, available_losses, get_loss, register_loss
from alnb.metrics import calibration_bins, evaluate, expected_calibration_error
from alnb.pool import Pool
from alnb.predictions import Predictions
from alnb.stopping import CalibrationPlateau, LabelBudget, MaxRounds, MetricPatience, StoppingCriterion
from alnb.store import LabelStore
from alnb.strategies import QueryContext, Selection, Strategy, build_strategy, get_strategy, register_strategy

if TYPE_CHECKING:
    from alnb.models import load_classifier
    from alnb.plots import learning_curves, reliability_diagram
    from alnb.training import Trainer, TrainerConfig

__version__ = "0.1.0"

_LAZY = {
    "Trainer": "alnb.training",
    "TrainerConfig": "alnb.training",
    "load_classifier": "alnb.models",
    "reliability_diagram": "alnb.plots",
    "learning_curves": "alnb.plots",
}

__all__ = [
    "DEFAULT_MODEL",
    "ActiveLearner",
    "CalibratedObjective",
    "CalibrationPlateau",
    "DatasetOracle",
    "LabelBudget",
    "LabelStore",
    "MaxRounds",
    "MetricPatience",
    "NonFinitePredictionsError",
    "Pool",
    "Predictions",
    "Query",
    "QueryContext",
    "Selection",
    "StoppingCriterion",
    "Strategy",
    "Trainer",
    "TrainerConfig",
    "available_losses",
    "build_strategy",
    "calibration_bins",
    "evaluate",
    "expected_calibration_error",
    "get_loss",
    "get_strategy",
    "learning_curves",
    "load_classifier",
    "register_loss",
    "register_strategy",
    "reliability_diagram",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'alnb' has no attribute {name!r}")
