"""The notebook UI of alnb, on core ipywidgets 8 only (no custom JavaScript, so it runs in JupyterLab 4,
Notebook 7, VS Code and Colab).

- :class:`LabelingWidget`: the queried images in a grid, one button per class, skip, undo, submit.
- :class:`RoundReport`: reliability diagram, learning curves and queried-class histogram after each round.
- :class:`ActiveLearningSession`: both tied to an :class:`~alnb.learner.ActiveLearner`, saved every round,
  resumable after a kernel restart with :meth:`ActiveLearningSession.resume`.

This is the only part of alnb that imports ipywidgets; ``import alnb`` does not import it.
"""

from alnb.widgets.labeling import Batch, LabelingWidget, check_display_names
from alnb.widgets.report import RoundReport
from alnb.widgets.session import ActiveLearningSession

__all__ = ["ActiveLearningSession", "Batch", "LabelingWidget", "RoundReport", "check_display_names"]
