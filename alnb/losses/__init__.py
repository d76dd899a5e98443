"""Differentiable calibration losses, a registry by name, weight schedules and :class:`CalibratedObjective`.

A new loss is one small file in this package that decorates its function with
``@register_loss("name")`` (``role="base"`` when it replaces cross-entropy) and is imported below.
"""

# Importing each loss file registers it.
from alnb.losses import avuc, cross_entropy, focal, label_smoothing, mmce, none, uc  # noqa: F401
from alnb.losses.avuc import avuc_loss
from alnb.losses.cross_entropy import cross_entropy_loss
from alnb.losses.focal import focal_loss
from alnb.losses.label_smoothing import label_smoothing_loss
from alnb.losses.mmce import mmce_loss
from alnb.losses.none import no_calibration_loss
from alnb.losses.objective import CalibratedObjective, LossParts
from alnb.losses.registry import LossFn, LossSpec, available_losses, get_loss, loss_spec, register_loss
from alnb.losses.schedules import (
    SCHEDULES,
    AnnealSchedule,
    ConstantSchedule,
    Schedule,
    anneal_schedule,
    constant_schedule,
    make_schedule,
)
from alnb.losses.uc import uncertainty_calibration_loss

__all__ = [
    "SCHEDULES",
    "AnnealSchedule",
    "CalibratedObjective",
    "ConstantSchedule",
    "LossFn",
    "LossParts",
    "LossSpec",
    "Schedule",
    "anneal_schedule",
    "available_losses",
    "avuc_loss",
    "constant_schedule",
    "cross_entropy_loss",
    "focal_loss",
    "get_loss",
    "label_smoothing_loss",
    "loss_spec",
    "make_schedule",
    "mmce_loss",
    "no_calibration_loss",
    "register_loss",
    "uncertainty_calibration_loss",
]
