"""``load_classifier``: any Hugging Face model id or local folder → a classifier with an adapter."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from alnb.embedded import DEFAULT_MODEL
from alnb.models.base import Classifier, check_class_names
from alnb.models.registry import adapter_class, make_adapter_config
from alnb.models.vision import VisionClassifier
from alnb.models.vision_language import VISION_LANGUAGE_TYPES, VisionLanguageClassifier

__all__ = ["ModelNotAvailableError", "load_classifier"]


class ModelNotAvailableError(OSError):
    """A model could not be found locally and could not be downloaded (offline mode or no network)."""


def _offline() -> bool:
    try:
        from huggingface_hub import constants

        return bool(constants.HF_HUB_OFFLINE)
    except ImportError:  # pragma: no cover - huggingface_hub comes with transformers
        return os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0", "false", "False")


def _not_available(model: str, err: Exception) -> ModelNotAvailableError:
    reason = (
        "offline mode is on (HF_HUB_OFFLINE=1), so the Hugging Face Hub is not contacted"
        if _offline()
        else "the Hugging Face Hub could not be reached or has no such model"
    )
    return ModelNotAvailableError(
        f"cannot load model {model!r}: it is not a local folder and not in the Hugging Face cache, and "
        f"{reason}. Pass a local folder instead, e.g. load_classifier('/path/to/model', class_names=...), "
        "where the folder was written by save_pretrained() and holds config.json, the weights "
        "(model.safetensors), the tokenizer files and preprocessor_config.json. "
        f"Original error: {type(err).__name__}: {err}"
    )


def _looks_like_path(model: str) -> bool:
    return model.startswith((".", "~", "/")) or os.sep in model.replace("/", "", 1) or Path(model).exists()


def _load_config(model: str) -> Any:
    from transformers import AutoConfig

    if model == DEFAULT_MODEL:
        from alnb.embedded import default_model_path

        default_model_path()  # a clear FileNotFoundError when the shipped weights are missing
    path = Path(model).expanduser()
    if _looks_like_path(model) and not path.is_dir():
        raise ModelNotAvailableError(f"model folder {model!r} does not exist.")
    if path.is_dir() and not (path / "config.json").is_file():
        raise ModelNotAvailableError(
            f"model folder {model!r} has no config.json; expected a folder written by save_pretrained()."
        )
    try:
        return AutoConfig.from_pretrained(str(path) if path.is_dir() else model)
    except OSError as err:
        raise _not_available(model, err) from err


def _image_processor(model: str) -> Any:
    from transformers import AutoImageProcessor
    from transformers.utils import is_torchvision_available

    # Without torchvision, ask for the PIL backend directly instead of a warning on every load.
    kwargs = {} if is_torchvision_available() else {"backend": "pil"}
    try:
        return AutoImageProcessor.from_pretrained(model, **kwargs)
    except OSError as err:
        raise _not_available(model, err) from err


def load_classifier(
    model: str = DEFAULT_MODEL,
    class_names: Sequence[str] | None = None,
    adapter: str = "coop",
    templates: Sequence[str] | None = None,
    *,
    seed: int = 0,
    **options: Any,
) -> Classifier:
    """Load a model with ``from_pretrained`` and wrap it as a classifier with an adapter.

    Parameters
    ----------
    model : str
        A Hugging Face model id or a local folder (default: the embedded tiny CLIP,
        ``alnb.embedded.DEFAULT_MODEL``). ``model_type`` ``"clip"`` (and ``"siglip"``) gives a
        :class:`VisionLanguageClassifier`; any other image model with a hidden size (ViT, DINOv2, …) gives a
        :class:`VisionClassifier` with a linear head.
    class_names : sequence of str
        Unique class names, in label order.
    adapter : str
        ``"zeroshot"``, ``"coop"``, ``"vpt"``, ``"lora"`` or ``"linear"`` (see
        :func:`~alnb.models.available_adapters`).
    templates : sequence of str, optional
        Prompt templates with one ``{}`` for vision-language models (default ``("a photo of a {}.",)``);
        several are averaged for the fixed-prompt adapters.
    seed : int
        Seed of the adapter's initialisation.
    **options
        Fields of the adapter's config, e.g. ``n_ctx=4`` for CoOp or ``r=8, towers="vision"`` for LoRA. An
        unknown option raises ``ValueError`` listing the fields.

    Returns
    -------
    Classifier

    Raises
    ------
    ModelNotAvailableError
        (an ``OSError``) when the model is neither a local folder nor cached and the hub is unreachable or
        ``HF_HUB_OFFLINE=1`` is set.
    ValueError
        On bad class names, templates, adapter names or options, or an adapter the model does not support.

    Examples
    --------
    >>> names = ["circle", "square", "triangle"]
    >>> clf = load_classifier(class_names=names, adapter="coop", n_ctx=4)  # doctest: +SKIP
    >>> clf.trainable_parameters()  # doctest: +SKIP
    (1536, 0.0004...)
    """
    if not isinstance(model, str | os.PathLike):
        raise ValueError(f"model must be a Hugging Face id or a folder path, got {model!r}.")
    model = os.fspath(model)
    names = check_class_names(class_names)
    adapter_class(adapter)
    config = make_adapter_config(adapter, options)
    model_config = _load_config(model)
    model_type = getattr(model_config, "model_type", None)

    from transformers import AutoModel, AutoTokenizer

    try:
        if model_type in VISION_LANGUAGE_TYPES:
            backbone = AutoModel.from_pretrained(model)
            tokenizer = AutoTokenizer.from_pretrained(model)
            processor = _image_processor(model)
            return VisionLanguageClassifier(
                backbone,
                tokenizer,
                processor,
                names,
                adapter_class(adapter)(config),
                templates=templates,
                model_name=model,
                seed=seed,
            )
        if hasattr(model_config, "text_config"):
            raise ValueError(
                f"model {model!r} (model_type {model_type!r}) has a text tower alnb does not support; "
                f"vision-language types: {list(VISION_LANGUAGE_TYPES)}."
            )
        if templates is not None:
            raise ValueError(
                f"templates only apply to vision-language models; {model!r} is image-only (model_type "
                f"{model_type!r}). Drop templates=..."
            )
        backbone = AutoModel.from_pretrained(model)
        processor = _image_processor(model)
    except OSError as err:
        if isinstance(err, ModelNotAvailableError):
            raise
        raise _not_available(model, err) from err
    return VisionClassifier(
        backbone, processor, names, adapter_class(adapter)(config), model_name=model, seed=seed
    )
