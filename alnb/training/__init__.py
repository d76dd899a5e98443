"""Training and prediction with accelerate: :class:`Trainer`, :class:`TrainerConfig`, the feature cache."""

from alnb.training.cache import FeatureCache, FeatureCacheWarning, dataset_fingerprint
from alnb.training.config import TrainerConfig
from alnb.training.data import check_indices, load_images, random_resized_crop_flip
from alnb.training.trainer import EpochLog, FitResult, Trainer

__all__ = [
    "EpochLog",
    "FeatureCache",
    "FeatureCacheWarning",
    "FitResult",
    "Trainer",
    "TrainerConfig",
    "check_indices",
    "dataset_fingerprint",
    "load_images",
    "random_resized_crop_flip",
]
