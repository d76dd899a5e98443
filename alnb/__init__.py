"""alnb: calibrated active learning of vision-language models with parameter-efficient fine-tuning, native to Jupyter.

The core never imports ipywidgets; the notebook UI lives in :mod:`alnb.widgets`. ``import alnb`` imports neither torch
nor numpy: every public name loads its module on first use (``alnb.ActiveLearner`` imports the learner, torch with it).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from alnb.embedded import DEFAULT_MODEL
from alnb.errors import (
    AlnbError,
    BudgetSpentError,
    NonFinitePredictionsError,
    PoolExhaustedError,
    StepOrderError,
    UnknownNameError,
)

if TYPE_CHECKING:
    from alnb.learner import ActiveLearner, DatasetOracle, Query
    from alnb.losses import CalibratedObjective, available_losses, get_loss, register_loss
    from alnb.metrics import calibration_bins, evaluate, expected_calibration_error
    from alnb.models import load_classifier
    from alnb.plots import learning_curves, reliability_diagram
    from alnb.pool import Pool
    from alnb.predictions import Predictions
    from alnb.stopping import CalibrationPlateau, LabelBudget, MaxRounds, MetricPatience, StoppingCriterion
    from alnb.store import LabelStore
    from alnb.strategies import (
        QueryContext,
        Selection,
        Strategy,
        build_strategy,
        get_strategy,
        register_strategy,
    )
    from alnb.training import Trainer, TrainerConfig

__version__ = "0.2.0.dev0"

#: Where each public name lives; ``import alnb`` stays light (no torch) and a name loads its module on first use.
_LAZY = {
    "ActiveLearner": "alnb.learner",
    "DatasetOracle": "alnb.learner",
    "Query": "alnb.learner",
    "CalibratedObjective": "alnb.losses",
    "available_losses": "alnb.losses",
    "get_loss": "alnb.losses",
    "register_loss": "alnb.losses",
    "calibration_bins": "alnb.metrics",
    "evaluate": "alnb.metrics",
    "expected_calibration_error": "alnb.metrics",
    "Pool": "alnb.pool",
    "Predictions": "alnb.predictions",
    "CalibrationPlateau": "alnb.stopping",
    "LabelBudget": "alnb.stopping",
    "MaxRounds": "alnb.stopping",
    "MetricPatience": "alnb.stopping",
    "StoppingCriterion": "alnb.stopping",
    "LabelStore": "alnb.store",
    "QueryContext": "alnb.strategies",
    "Selection": "alnb.strategies",
    "Strategy": "alnb.strategies",
    "build_strategy": "alnb.strategies",
    "get_strategy": "alnb.strategies",
    "register_strategy": "alnb.strategies",
    "Trainer": "alnb.training",
    "TrainerConfig": "alnb.training",
    "load_classifier": "alnb.models",
    "reliability_diagram": "alnb.plots",
    "learning_curves": "alnb.plots",
}

__all__ = [
    "DEFAULT_MODEL",
    "ActiveLearner",
    "AlnbError",
    "BudgetSpentError",
    "CalibratedObjective",
    "CalibrationPlateau",
    "DatasetOracle",
    "LabelBudget",
    "LabelStore",
    "MaxRounds",
    "MetricPatience",
    "NonFinitePredictionsError",
    "Pool",
    "PoolExhaustedError",
    "Predictions",
    "Query",
    "QueryContext",
    "Selection",
    "StepOrderError",
    "StoppingCriterion",
    "Strategy",
    "Trainer",
    "TrainerConfig",
    "UnknownNameError",
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


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
