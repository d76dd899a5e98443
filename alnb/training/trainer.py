"""The accelerate-backed Trainer: ``fit`` an adapter on labeled dataset indices, ``predict`` on any."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F
from accelerate import Accelerator
from torch import nn
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from alnb._validation import check_labels
from alnb.losses import CalibratedObjective
from alnb.models.adapters.base import as_vision_language
from alnb.models.base import Classifier
from alnb.models.devices import default_device
from alnb.predictions import Predictions
from alnb.training.cache import FeatureCache, dataset_fingerprint
from alnb.training.config import TrainerConfig
from alnb.training.data import FeatureBatches, ImageBatches, Positions, check_indices

__all__ = ["EpochLog", "FitResult", "Trainer"]

#: Encoded rows are handed to the feature cache in blocks of about this many (one disk append each).
_ENCODE_BLOCK = 16384


@dataclass(frozen=True)
class EpochLog:
    """One training epoch: learning rate, mean losses over the epoch's samples, wall time, and the share of training
    samples the model got wrong during the epoch (the "incorrect" group a calibration loss such as L_UC works on)."""

    epoch: int
    lr: float
    loss: float
    ce: float
    calibration: float
    calibration_weight: float
    seconds: float
    train_error: float = float("nan")


@dataclass(frozen=True)
class FitResult:
    """What the last ``fit`` did (``Trainer.last_fit_``).

    Attributes
    ----------
    epochs : tuple of EpochLog
        Per-epoch losses (``loss`` = total, ``ce`` = base loss, ``calibration`` = unweighted calibration
        term).
    n_samples : int
        Labeled samples trained on.
    seconds : float
        Wall time of the whole fit, including feature encoding.
    encode_seconds : float
        Part of ``seconds`` spent encoding images for the feature cache.
    used_feature_cache : bool
        Whether training ran on cached image features.
    trained : bool
        False when there was nothing to train (no trainable parameters, e.g. zero-shot, or no samples).
    """

    epochs: tuple[EpochLog, ...]
    n_samples: int
    seconds: float
    encode_seconds: float
    used_feature_cache: bool
    trained: bool

    @property
    def losses(self) -> list[float]:
        """Mean total loss of each epoch."""
        return [e.loss for e in self.epochs]


def _check_classifier(classifier: Any) -> Classifier:
    if not isinstance(classifier, Classifier):
        raise ValueError(
            "classifier must be an alnb Classifier (from alnb.models.load_classifier), "
            f"got {type(classifier)!r}."
        )
    return classifier


def _dropouts(module: nn.Module) -> list[nn.Dropout]:
    return [m for m in module.modules() if isinstance(m, nn.Dropout) and m.p > 0]


@contextmanager
def _seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Seed torch for a block and restore the caller's RNG state afterwards."""
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def cpu_supports_bf16() -> bool:
    """Whether torch's CPU autocast runs a matrix product in bfloat16 here."""
    try:
        with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
            return (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.bfloat16
    except (RuntimeError, ValueError):
        return False


class Trainer:
    """Trains a classifier's adapter and predicts with it, on CPU, one GPU or several processes (accelerate).

    Parameters
    ----------
    config : TrainerConfig, optional
        Training options (defaults: C-PEAL's).
    accelerator : accelerate.Accelerator, optional
        Use this one; by default the Trainer creates one at first use (CPU when there is no GPU; under
        ``accelerate launch`` it joins the launched processes).
    feature_cache : FeatureCache, optional
        Where frozen image features are kept (default: a new in-memory one). ``ActiveLearner`` gives it its
        session folder, so a resumed session does not encode the pool again.

    Attributes
    ----------
    feature_cache : FeatureCache
        Frozen image features by (classifier fingerprint, dataset fingerprint, image column, precision; index);
        kept across calls.
    last_fit_ : FitResult
        Set by :meth:`fit`.
    accelerator_ : accelerate.Accelerator
        The accelerator in use (after the first call).

    Examples
    --------
    >>> trainer = Trainer(TrainerConfig(epochs=10, calibration="uc"))
    >>> round(trainer.objective().weight_at(2), 2)  # C-PEAL's annealed weight of the UC term in epoch 2
    0.12
    >>> trainer.fit(classifier, dataset, indices=[0, 5, 9], labels=[2, 0, 1])  # doctest: +SKIP
    >>> predictions = trainer.predict(classifier, dataset, indices=range(100))  # doctest: +SKIP
    """

    def __init__(
        self,
        config: TrainerConfig | None = None,
        accelerator: Accelerator | None = None,
        feature_cache: FeatureCache | None = None,
    ) -> None:
        if config is not None and not isinstance(config, TrainerConfig):
            raise ValueError(f"config must be a TrainerConfig or None, got {config!r}.")
        if accelerator is not None and not isinstance(accelerator, Accelerator):
            raise ValueError(f"accelerator must be an accelerate.Accelerator or None, got {accelerator!r}.")
        if feature_cache is not None and not isinstance(feature_cache, FeatureCache):
            raise ValueError(f"feature_cache must be a FeatureCache or None, got {feature_cache!r}.")
        self.config = config if config is not None else TrainerConfig()
        workers = self.config.num_workers
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 0:
            raise ValueError(f"num_workers must be a non-negative integer, got {workers!r}.")
        if not isinstance(self.config.pin_memory, bool):
            raise ValueError(f"pin_memory must be True or False, got {self.config.pin_memory!r}.")
        self.accelerator = accelerator
        self.feature_cache = feature_cache if feature_cache is not None else FeatureCache()

    # ------------------------------------------------------------------ helpers

    def _accelerator(self) -> Accelerator:
        if getattr(self, "accelerator_", None) is None:
            self._own_precision: str | None = None
            if self.accelerator is not None:
                self.accelerator_ = self.accelerator
            else:
                self.accelerator_ = self._new_accelerator(self._precision())
        return self.accelerator_

    def _new_accelerator(self, precision: str | None) -> Accelerator:
        """An Accelerator at ``precision`` (``None``: accelerate's own setting).

        accelerate keeps one precision per process and refuses an Accelerator asking for another one. A second
        Trainer with another precision then joins the existing state and applies its own precision itself:
        torch autocast around its forward passes, and a gradient scaler of its own for fp16.
        """
        cpu = default_device().type == "cpu"  # alnb's one device pick: CUDA, Apple MPS, XPU, … when present
        try:
            return Accelerator(cpu=cpu, mixed_precision=precision)
        except ValueError as error:
            if "already been initialized" not in str(error):
                raise
        accelerator = Accelerator(cpu=cpu)
        if precision != accelerator.mixed_precision:
            self._own_precision = precision
            accelerator.native_amp = False  # prepare() must not wrap forward in the process-wide precision
            accelerator.scaler = (
                torch.amp.GradScaler(accelerator.device.type) if precision == "fp16" else None
            )
        return accelerator

    def _autocast(self, accelerator: Accelerator) -> AbstractContextManager[Any]:
        """This Trainer's autocast: accelerate's, or its own when it differs from the process-wide precision."""
        own = getattr(self, "_own_precision", None)
        if own is None:
            return accelerator.autocast()
        if own == "no":
            return nullcontext()
        dtype = torch.bfloat16 if own == "bf16" else torch.float16
        return torch.autocast(device_type=accelerator.device.type, dtype=dtype)

    def _precision(self) -> str | None:
        """The configured precision where the hardware has it, else "no"; ``None`` leaves it to accelerate."""
        wanted = self.config.mixed_precision
        if wanted is None or wanted == "no":
            return wanted
        if torch.cuda.is_available():
            if wanted == "bf16" and not torch.cuda.is_bf16_supported():
                return "no"
            return wanted
        return "bf16" if wanted == "bf16" and cpu_supports_bf16() else "no"

    def _bar(self, accelerator: Accelerator, **kwargs: Any) -> tqdm:
        return tqdm(disable=self.config.quiet or not accelerator.is_main_process, leave=False, **kwargs)

    @staticmethod
    def _forget(accelerator: Accelerator, *objects: Any) -> None:
        """Drop accelerate's references to what this call prepared (it keeps every prepared object).

        ``Accelerator.free_memory`` would also drop the caller's objects and run a slow ``gc.collect``.
        """
        for name in ("_models", "_optimizers", "_dataloaders"):
            items = getattr(accelerator, name, None)
            if isinstance(items, list):
                items[:] = [item for item in items if not any(item is obj for obj in objects)]

    def _image_loader(
        self, positions: Positions, batch_size: int, collate: ImageBatches, accelerator: Accelerator
    ) -> DataLoader:
        """A DataLoader over images: ``num_workers`` processes decode while the model runs; pinned batches on
        CUDA. Worker processes start afresh each epoch (not persistent), so they see the epoch's order and seed."""
        cfg = self.config
        return DataLoader(
            positions,
            batch_size=batch_size,
            collate_fn=collate,
            num_workers=cfg.num_workers,
            pin_memory=cfg.pin_memory and accelerator.device.type == "cuda",
        )

    def _encode(
        self, classifier: Classifier, dataset: Any, indices: npt.NDArray[np.int64], accelerator: Accelerator
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Image features (CPU, float32) of ``indices``, computed across all processes: ``(positions in indices,
        features)`` blocks of about ``_ENCODE_BLOCK`` rows, so the caller can store them as they come."""
        collate = ImageBatches(dataset, indices, None, self.config.image_column, classifier.preprocess)
        loader = accelerator.prepare(
            self._image_loader(Positions(len(indices)), self.config.eval_batch_size, collate, accelerator)
        )
        self._forget(accelerator, loader)
        classifier.eval()
        positions: list[torch.Tensor] = []
        features: list[torch.Tensor] = []
        with torch.no_grad(), self._bar(accelerator, total=len(loader), desc="encoding images") as bar:
            for batch in loader:
                with self._autocast(accelerator):
                    out = classifier.encode_images(batch["pixel_values"])
                pos, feats = accelerator.gather_for_metrics((batch["positions"], out.float()))
                positions.append(pos.cpu())
                features.append(feats.cpu())
                bar.update()
                if sum(len(p) for p in positions) >= _ENCODE_BLOCK:
                    yield torch.cat(positions), torch.cat(features)
                    positions, features = [], []
        if positions:
            yield torch.cat(positions), torch.cat(features)

    def _cache_key(self, classifier: Classifier, dataset: Any, accelerator: Accelerator) -> tuple[str, ...]:
        """What the cached features depend on: frozen weights and preprocessing, data, image column, precision."""
        precision = getattr(self, "_own_precision", None) or accelerator.mixed_precision
        return (
            classifier.fingerprint(),
            dataset_fingerprint(dataset),
            f"column={self.config.image_column}",
            f"precision={precision}",
        )

    def _features(
        self, classifier: Classifier, dataset: Any, indices: npt.NDArray[np.int64], accelerator: Accelerator
    ) -> torch.Tensor:
        """Cached features of ``indices``; only rows not cached yet go through the image tower.

        Encoded rows are stored block by block, so an interrupted encoding keeps what it finished. When the cache
        lives on disk and several processes share it, only the main process writes (every process holds the
        gathered features); the others read the rows after the barrier.
        """
        cache = self.feature_cache
        key = self._cache_key(classifier, dataset, accelerator)
        missing = cache.missing(key, indices)
        if len(missing):
            shared = cache.is_persistent(key) and accelerator.num_processes > 1
            for positions, features in self._encode(classifier, dataset, missing, accelerator):
                if not shared or accelerator.is_main_process:
                    cache.add(key, missing[positions.numpy()], features)
            if shared:
                accelerator.wait_for_everyone()
        return cache.get(key, indices)

    def _optimizer(self, params: list[nn.Parameter]) -> torch.optim.Optimizer:
        cfg = self.config
        if cfg.optimizer == "sgd":
            return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
        return torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay)

    def objective(self, config: TrainerConfig | None = None) -> CalibratedObjective:
        """The loss ``fit`` minimises: base loss + scheduled calibration term (see ``alnb.losses``)."""
        cfg = config or self.config
        return CalibratedObjective(
            calibration=cfg.calibration,
            weight=cfg.calibration_weight,
            schedule=cfg.calibration_schedule,
            epochs=cfg.epochs,
        )

    # ------------------------------------------------------------------ fit

    def fit(self, classifier: Classifier, dataset: Any, indices: Any, labels: Any) -> Trainer:
        """Train ``classifier``'s adapter on dataset-wide ``indices`` with the caller's ``labels``.

        Parameters
        ----------
        classifier : Classifier
            From :func:`alnb.models.load_classifier`; trained in place.
        dataset : datasets.Dataset or sequence
            Holds the images (column ``config.image_column``); its own labels are not used.
        indices : sequence of int
            Dataset-wide indices of the labeled items (no repeats).
        labels : sequence of int
            Class of each index, in ``[0, classifier.num_classes)``.

        Returns
        -------
        Trainer
            ``self``; ``last_fit_`` describes the run.
        """
        classifier = _check_classifier(classifier)
        idx = check_indices(indices, len(dataset))
        y = check_labels(labels, len(idx), classifier.num_classes)
        cfg = self.config
        if cfg.epochs_for(len(idx)) != cfg.epochs:  # the schedule stretches over the extra epochs
            cfg = dataclasses.replace(cfg, epochs=cfg.epochs_for(len(idx)))
        accelerator = self._accelerator()
        start = time.perf_counter()
        classifier.to(accelerator.device)
        with _seeded(cfg.seed, accelerator.device):
            if cfg.reset_each_round:
                classifier.reset_adapter(cfg.seed)
            params = [p for p in classifier.parameters() if p.requires_grad]
            use_cache = cfg.feature_cache and classifier.image_tower_frozen
            if not params or len(idx) == 0:
                self.last_fit_ = FitResult((), len(idx), time.perf_counter() - start, 0.0, False, False)
                return self
            encode_seconds = 0.0
            collate: FeatureBatches | ImageBatches
            if use_cache:
                encode_start = time.perf_counter()
                collate = FeatureBatches(self._features(classifier, dataset, idx, accelerator), y)
                encode_seconds = time.perf_counter() - encode_start
            else:
                augment = (cfg.seed, 0) if cfg.augment else None
                collate = ImageBatches(dataset, idx, y, cfg.image_column, classifier.preprocess, augment)
            positions = Positions(len(idx))
            if isinstance(collate, ImageBatches):
                loader = self._image_loader(positions, cfg.batch_size, collate, accelerator)
            else:  # cached features are slices of one tensor: worker processes would only add overhead
                loader = DataLoader(positions, batch_size=cfg.batch_size, collate_fn=collate)
            model, optimizer, loader = accelerator.prepare(classifier, self._optimizer(params), loader)
            torch.manual_seed(cfg.seed)  # again: encoding new rows must not shift dropout masks
            try:
                logs = self._train_epochs(
                    model, optimizer, loader, positions, collate, use_cache, accelerator, cfg
                )
            finally:
                self._forget(accelerator, model, optimizer, loader)
        classifier.eval()
        self.last_fit_ = FitResult(
            tuple(logs), len(idx), time.perf_counter() - start, encode_seconds, use_cache, True
        )
        return self

    def _train_epochs(
        self,
        model: nn.Module,
        optimizer: Any,
        loader: DataLoader,
        positions: Positions,
        collate: FeatureBatches | ImageBatches,
        use_cache: bool,
        accelerator: Accelerator,
        cfg: TrainerConfig,
    ) -> list[EpochLog]:
        objective = self.objective(cfg)
        logs: list[EpochLog] = []
        with self._bar(accelerator, total=cfg.epochs, desc=f"fit ({len(positions)} labeled)") as bar:
            for epoch in range(cfg.epochs):
                epoch_start = time.perf_counter()
                lr = cfg.lr_at(epoch)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                # Every process computes the same order; accelerate then shards the batches.
                positions.order = np.random.default_rng([cfg.seed, epoch]).permutation(len(positions))
                if isinstance(collate, ImageBatches):  # seeds per item: same crops in any process/worker
                    collate.reseed((cfg.seed, epoch))
                model.train()
                sums = torch.zeros(5, device=accelerator.device, dtype=torch.float64)
                for batch in loader:
                    key = "image_features" if use_cache else "pixel_values"
                    with self._autocast(accelerator):
                        logits = model(**{key: batch[key]})
                    parts = objective.parts(logits.float(), batch["labels"], epoch)
                    optimizer.zero_grad(set_to_none=True)
                    accelerator.backward(parts.total)
                    optimizer.step()
                    n = float(len(batch["labels"]))
                    sums += torch.stack(
                        [
                            parts.total.detach() * n,
                            parts.base.detach() * n,
                            parts.calibration.detach() * n,
                            torch.tensor(n, device=sums.device),
                            (logits.detach().argmax(1) != batch["labels"]).sum().to(sums),
                        ]
                    ).to(sums)
                total, base, calibration, count, wrong = accelerator.reduce(sums, "sum").tolist()
                logs.append(
                    EpochLog(
                        epoch=epoch,
                        lr=lr,
                        loss=total / count,
                        ce=base / count,
                        calibration=calibration / count,
                        calibration_weight=objective.weight_at(epoch),
                        seconds=time.perf_counter() - epoch_start,
                        train_error=wrong / count,
                    )
                )
                bar.set_postfix(loss=f"{total / count:.4f}")
                bar.update()
        return logs

    # ------------------------------------------------------------------ predict

    def predict(self, classifier: Classifier, dataset: Any, indices: Any, mc_samples: int = 0) -> Predictions:
        """Logits, probabilities and embeddings of dataset-wide ``indices``, in the order given.

        Parameters
        ----------
        classifier : Classifier
            The classifier to evaluate (put in eval mode).
        dataset : datasets.Dataset or sequence
            Holds the images.
        indices : sequence of int
            Dataset-wide indices (no repeats).
        mc_samples : int
            K > 0 adds ``prob_samples`` ``[N, C, K]`` from K forward passes with dropout active (MC dropout;
            needs dropout in the classifier: LoRA's, or ``feature_dropout`` of any adapter); ``probs`` is then
            their mean. Text features are computed once, without dropout.

        Returns
        -------
        Predictions
        """
        cfg = self.config
        classifier = _check_classifier(classifier)
        idx = check_indices(indices, len(dataset))
        if isinstance(mc_samples, bool) or not isinstance(mc_samples, int) or mc_samples < 0:
            raise ValueError(f"mc_samples must be a non-negative integer, got {mc_samples!r}.")
        dropouts = _dropouts(classifier)
        if mc_samples and not dropouts:
            raise ValueError(
                f"mc_samples={mc_samples} needs dropout in the classifier, but adapter "
                f"{classifier.adapter_name!r} has none: load it with feature_dropout=0.1 (any adapter) or "
                "use LoRA."
            )
        accelerator = self._accelerator()
        classifier.to(accelerator.device).eval()
        n, num_classes = len(idx), classifier.num_classes
        if n == 0:
            empty = torch.empty(0, num_classes)
            samples = torch.empty(0, num_classes, mc_samples) if mc_samples else None
            return Predictions(indices=idx, logits=empty, probs=empty.clone(), prob_samples=samples)
        use_cache = cfg.feature_cache and classifier.image_tower_frozen
        with _seeded(cfg.seed, accelerator.device):
            collate: FeatureBatches | ImageBatches
            if use_cache:
                collate = FeatureBatches(self._features(classifier, dataset, idx, accelerator), None)
                plain = DataLoader(Positions(n), batch_size=cfg.eval_batch_size, collate_fn=collate)
            else:
                collate = ImageBatches(dataset, idx, None, cfg.image_column, classifier.preprocess)
                plain = self._image_loader(Positions(n), cfg.eval_batch_size, collate, accelerator)
            loader = accelerator.prepare(plain)
            self._forget(accelerator, loader)
            torch.manual_seed(cfg.seed)  # again: encoding new rows must not shift dropout masks
            gathered = self._predict_batches(classifier, loader, use_cache, mc_samples, dropouts, accelerator)
        positions = torch.cat([g[0] for g in gathered]).cpu()
        logits = torch.empty(n, num_classes)
        logits[positions] = torch.cat([g[1] for g in gathered]).cpu()
        first_embeddings = gathered[0][2]
        embeddings = torch.empty(n, first_embeddings.shape[1])
        embeddings[positions] = torch.cat([g[2] for g in gathered]).cpu()
        prob_samples = None
        if mc_samples:
            prob_samples = torch.empty(n, num_classes, mc_samples)
            prob_samples[positions] = torch.cat([g[3] for g in gathered]).cpu()
            probs = prob_samples.mean(dim=2)
        else:
            probs = logits.softmax(dim=1)
        text_features = None
        if classifier.family == "vision_language":  # class-guided strategies (cb) mix these in
            with torch.no_grad():
                text = as_vision_language(classifier, "class-guided text features").class_text_features()
            text_features = text.detach().float().cpu()
        return Predictions(
            indices=idx,
            logits=logits,
            probs=probs,
            embeddings=embeddings,
            prob_samples=prob_samples,
            text_features=text_features,
        )

    def _predict_batches(
        self,
        classifier: Classifier,
        loader: DataLoader,
        use_cache: bool,
        mc_samples: int,
        dropouts: list[nn.Dropout],
        accelerator: Accelerator,
    ) -> list[tuple[torch.Tensor, ...]]:
        gathered = []
        with torch.no_grad(), self._bar(accelerator, total=len(loader), desc="predict") as bar:
            for batch in loader:
                with self._autocast(accelerator):
                    if use_cache:
                        inputs = {"image_features": batch["image_features"]}
                        features = batch["image_features"]
                    else:
                        inputs = {"pixel_values": batch["pixel_values"]}
                        features = classifier.encode_images(batch["pixel_values"])
                    embeddings = classifier.embed(image_features=features)
                    logits = classifier.classify(embeddings)
                    out: tuple[torch.Tensor, ...] = (batch["positions"], logits.float(), embeddings.float())
                    if mc_samples:
                        for module in dropouts:
                            module.train()
                        try:
                            samples = [
                                F.softmax(classifier(**inputs).float(), dim=1) for _ in range(mc_samples)
                            ]
                        finally:
                            for module in dropouts:
                                module.eval()
                        out = (*out, torch.stack(samples, dim=2))
                gathered.append(accelerator.gather_for_metrics(out))
                bar.update()
        return gathered
