"""The notebook UI of alnb, on core ipywidgets 8 plus one small anywidget ES module for the keyboard (no build
step, no labextension to install; the buttons work without it).

- :class:`LabelingWidget`: the queried images in a grid, keys and buttons per class, accept-the-guess, skip,
  undo, submit; split into :class:`TileGrid` (view), :class:`LabelInput` (input) and
  :class:`LabelingController` (talks to the pool).
- :class:`RoundReport`: reliability diagram, learning curves and queried-class histogram after each round.
- :class:`ActiveLearningSession`: both tied to an :class:`~alnb.learner.ActiveLearner`, training in the
  background, with an audit estimate of accuracy without a test set, saved every round, resumable after a
  kernel restart with :meth:`ActiveLearningSession.resume`.

This is the only part of alnb that imports ipywidgets; ``import alnb`` does not import it.
"""

from alnb.widgets.labeling import (
    Batch,
    LabelingController,
    LabelingWidget,
    LabelInput,
    TileGrid,
    check_display_names,
)
from alnb.widgets.report import RoundReport
from alnb.widgets.session import ActiveLearningSession, FitCancelled

__all__ = [
    "ActiveLearningSession",
    "Batch",
    "FitCancelled",
    "LabelInput",
    "LabelingController",
    "LabelingWidget",
    "RoundReport",
    "TileGrid",
    "check_display_names",
]
