"""The exceptions alnb raises on purpose, one family under :class:`AlnbError`.

Every class is a ``ValueError`` (bad input or a step that cannot run now), so code that catches ``ValueError`` keeps
working; catch :class:`AlnbError` or one subclass to tell alnb's refusals from other errors. This module imports
nothing heavy.

Examples
--------
>>> from alnb.errors import AlnbError, UnknownNameError
>>> issubclass(UnknownNameError, AlnbError) and issubclass(UnknownNameError, KeyError)
True
"""

from __future__ import annotations

__all__ = [
    "AlnbError",
    "BudgetSpentError",
    "NonFinitePredictionsError",
    "PoolExhaustedError",
    "StepOrderError",
    "UnknownNameError",
]


class AlnbError(ValueError):
    """Base class of the errors alnb raises on purpose (a ``ValueError``)."""


class UnknownNameError(AlnbError, KeyError):
    """A name (strategy, adapter, loss) that no registry holds; the message lists the known names.

    Also a ``KeyError`` (a failed look-up), but prints like a ``ValueError`` (no quotes around the message).
    """

    def __str__(self) -> str:
        return str(self.args[0]) if len(self.args) == 1 else super().__str__()


class BudgetSpentError(AlnbError):
    """``query()`` after the label budget is spent."""


class PoolExhaustedError(AlnbError):
    """``query()`` when the pool has no unlabeled items left (the budget, if any, is not spent)."""


class StepOrderError(AlnbError):
    """A step of the active-learning round called out of order (e.g. ``end_round()`` before ``fit()``)."""


class NonFinitePredictionsError(AlnbError):
    """The model's predictions on the pool hold NaN or inf, so no query can be made from them."""
