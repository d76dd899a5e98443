"""Query strategies: the :class:`Strategy` protocol, a registry and the strategies and wrappers that ship.

Scoring is separated from selecting. Every index is a dataset-wide int64 index.

Examples
--------
>>> from alnb.strategies import available, build_strategy
>>> "entropy" in available()
True
>>> build_strategy("entropy+pcb")     # C-PEAL: entropy candidates, then class balancing
ClassBalanced(base=Entropy(), gamma=0.1)
"""

from alnb.strategies.badge import BADGE
from alnb.strategies.bald import BALD
from alnb.strategies.base import QueryContext, Selection, Strategy, top_k
from alnb.strategies.candidates import TopCandidates
from alnb.strategies.cb import ClusterBalanced, SelectiveClusterBalanced, SelectiveSelection
from alnb.strategies.class_balanced import ClassBalanced
from alnb.strategies.coreset import Coreset
from alnb.strategies.entropy import Entropy
from alnb.strategies.featdist import FeatDist
from alnb.strategies.least_confidence import LeastConfidence
from alnb.strategies.margin import Margin
from alnb.strategies.power_entropy import PowerEntropy
from alnb.strategies.probcover import ProbCover
from alnb.strategies.random_sampling import RandomSampling
from alnb.strategies.registry import available, build_strategy, get_strategy, register_strategy
from alnb.strategies.typiclust import TypiClust
from alnb.strategies.zeroshot import ZeroShot

__all__ = [
    "BADGE",
    "BALD",
    "ClassBalanced",
    "ClusterBalanced",
    "Coreset",
    "Entropy",
    "FeatDist",
    "LeastConfidence",
    "Margin",
    "PowerEntropy",
    "ProbCover",
    "QueryContext",
    "RandomSampling",
    "Selection",
    "SelectiveClusterBalanced",
    "SelectiveSelection",
    "Strategy",
    "TopCandidates",
    "TypiClust",
    "ZeroShot",
    "available",
    "build_strategy",
    "get_strategy",
    "register_strategy",
    "top_k",
]
