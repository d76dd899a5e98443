"""The evidence studies: C-PEAL vs BADGE / Coreset, prompts vs LoRA, PEAL's linear probe vs LoRA; protocols and statistics.

>>> from alnb.studies import STUDIES, PROTOCOLS
>>> sorted(STUDIES), sorted(PROTOCOLS)
(['cpeal', 'peal', 'prompt-vs-lora'], ['alnb', 'cpeal-paper'])
"""

from alnb.studies.protocols import PROTOCOLS, Protocol, Recipe, get_protocol
from alnb.studies.report import headline, summarize, write_study
from alnb.studies.stats import area_under_curve, bootstrap_interval, labels_to_reach, paired_difference
from alnb.studies.study import STUDIES, Study, calibration_mechanism, run_study

__all__ = [
    "PROTOCOLS",
    "STUDIES",
    "Protocol",
    "Recipe",
    "Study",
    "area_under_curve",
    "bootstrap_interval",
    "calibration_mechanism",
    "get_protocol",
    "headline",
    "labels_to_reach",
    "paired_difference",
    "run_study",
    "summarize",
    "write_study",
]
