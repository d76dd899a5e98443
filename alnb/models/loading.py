"""``load_classifier``: a Hugging Face model id or local folder, or a folder an adapter was saved to → a classifier.

Order of work for a model: its config (``AutoConfig.from_pretrained``, a few kB) → the model family and whether the
adapter supports it (:meth:`Adapter.supports`) → only then the weights, tokenizer and image processor. An
unsupported adapter is refused before anything large is downloaded or read.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from alnb._paths import resolve_model_name
from alnb.embedded import DEFAULT_MODEL
from alnb.models.adapters.lora import LoRA
from alnb.models.base import ADAPTER_CONFIG_FILE, Classifier, check_class_names, read_adapter_description
from alnb.models.devices import resolve_device, resolve_dtype
from alnb.models.registry import adapter_class, check_supports, make_adapter_config
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


def _family(model: str, model_config: Any, templates: Sequence[str] | None) -> str:
    """``"vision_language"`` or ``"vision"`` from the config alone; refuses what alnb cannot wrap."""
    model_type = getattr(model_config, "model_type", None)
    if model_type in VISION_LANGUAGE_TYPES:
        return "vision_language"
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
    return "vision"


def load_classifier(
    model: str | os.PathLike[str] = DEFAULT_MODEL,
    class_names: Sequence[str] | None = None,
    adapter: str | None = None,
    templates: Sequence[str] | None = None,
    *,
    seed: int | None = None,
    torch_dtype: Any = None,
    device_map: Any = None,
    base_model: str | os.PathLike[str] | None = None,
    **options: Any,
) -> Classifier:
    """Load a model with ``from_pretrained`` and wrap it as a classifier with an adapter, or rebuild a saved one.

    Parameters
    ----------
    model : str or os.PathLike
        A Hugging Face model id or a local folder written by ``save_pretrained`` (default: the embedded tiny
        CLIP, ``alnb.embedded.DEFAULT_MODEL``). ``model_type`` ``"clip"`` (and ``"siglip"``) gives a
        :class:`VisionLanguageClassifier`; any other image model with a hidden size (ViT, DINOv2, …) gives a
        :class:`VisionClassifier` with a linear head.

        Or a folder written by :meth:`Classifier.save_adapter` (it holds ``alnb_adapter.json``; see
        ``docs/adapter-format.md``), for every adapter, LoRA included: the classifier is rebuilt from the folder
        alone (base model, class names, adapter and its options, templates, seed, dtype) and its trained state
        loaded, so it gives the same logits as the one saved. ``class_names``, ``adapter``, ``templates`` and
        options may then be omitted; given, they must equal the saved ones.
    class_names : sequence of str
        Unique class names, in label order.
    adapter : str, optional
        ``"zeroshot"``, ``"coop"`` (default for a model), ``"vpt"``, ``"lora"`` or ``"linear"`` (see
        :func:`~alnb.models.available_adapters`).
    templates : sequence of str, optional
        Prompt templates with one ``{}`` for vision-language models (default ``("a photo of a {}.",)``);
        several are averaged for the fixed-prompt adapters.
    seed : int, optional
        Seed of the adapter's initialisation (default 0, or the saved one for an adapter folder).
    torch_dtype : None, "auto", torch.dtype or str
        dtype of the backbone's weights: ``None`` float32 (for an adapter folder: the dtype it was saved from),
        ``"auto"`` the checkpoint's own, ``torch.bfloat16`` (``"bf16"``) to halve the memory of a large backbone,
        ``torch.float16``. The adapter's trainable tensors stay float32 and logits are float32.
    device_map : None, "auto", str, int or torch.device
        Where the whole classifier is put: ``None`` the CPU (the Trainer moves it to its device), ``"auto"`` the
        best device present (CUDA, Apple MPS, XPU, … by accelerate's rule, :func:`alnb.models.default_device`),
        or a device such as ``"cuda:1"`` or ``"mps"``. Weights load straight onto it.
    base_model : str or os.PathLike, optional
        For an adapter folder only: the base model to use instead of the recorded one (e.g. after moving the
        folder to a machine where the model lies elsewhere); its ``model_type`` must match.
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
        On bad class names, templates, adapter names, options, dtypes or devices, or an adapter the model does not
        support (checked from the model's config, before its weights are read).

    Examples
    --------
    >>> names = ["circle", "square", "triangle"]
    >>> clf = load_classifier(class_names=names, adapter="coop", n_ctx=4)  # doctest: +SKIP
    >>> clf.trainable_parameters()  # doctest: +SKIP
    (1536, 0.0004...)
    >>> clf.save_adapter("my_adapter")  # doctest: +SKIP
    >>> same = load_classifier("my_adapter")  # doctest: +SKIP
    """
    if not isinstance(model, str | os.PathLike):
        raise ValueError(f"model must be a Hugging Face id or a folder path, got {model!r}.")
    model = os.fspath(model)
    folder = Path(model).expanduser()
    if folder.is_dir() and (folder / ADAPTER_CONFIG_FILE).is_file():
        return _load_saved(
            folder,
            class_names,
            adapter,
            templates,
            seed=seed,
            torch_dtype=torch_dtype,
            device_map=device_map,
            base_model=base_model,
            options=options,
        )
    if folder.is_dir() and (folder / PEFT_CONFIG).is_file() and not (folder / "config.json").is_file():
        return _load_peft_folder(
            folder,
            class_names,
            adapter,
            templates,
            seed=seed,
            torch_dtype=torch_dtype,
            device_map=device_map,
            base_model=base_model,
            options=options,
        )
    if base_model is not None:
        raise ValueError(
            f"base_model={base_model!r} only applies when model is an adapter folder (one holding "
            f"{ADAPTER_CONFIG_FILE} or peft's {PEFT_CONFIG}); {model!r} is not."
        )
    return _load_model(
        model,
        class_names,
        "coop" if adapter is None else adapter,
        templates,
        seed=0 if seed is None else seed,
        torch_dtype=torch_dtype,
        device_map=device_map,
        options=options,
    )


def _load_model(
    model: str,
    class_names: Sequence[str] | None,
    adapter: str,
    templates: Sequence[str] | None,
    *,
    seed: int,
    torch_dtype: Any,
    device_map: Any,
    options: dict[str, Any],
    families: tuple[str, ...] = ("vision_language", "vision"),
    why: str = "",
) -> Classifier:
    names = check_class_names(class_names)  # type: ignore[arg-type]  # None is refused with a clear message
    cls = adapter_class(adapter)
    config = make_adapter_config(adapter, options)
    dtype = resolve_dtype(torch_dtype)
    device = resolve_device(device_map)
    model_config = _load_config(model)
    family = _family(model, model_config, templates)
    model_name = resolve_model_name(model)
    if family not in families:
        raise ValueError(f"model {model!r} is a {family.replace('_', '-')} model; {why}")
    # From the config alone, before any weights are read or downloaded.
    check_supports(cls, family, str(getattr(model_config, "model_type", None)), model_name)

    from transformers import AutoModel, AutoTokenizer

    kwargs: dict[str, Any] = {"dtype": dtype}
    if device is not None:
        kwargs["device_map"] = device
    try:
        backbone = AutoModel.from_pretrained(model, config=model_config, **kwargs)
        processor = _image_processor(model)
        if family == "vision_language":
            tokenizer = AutoTokenizer.from_pretrained(model)
            classifier: Classifier = VisionLanguageClassifier(
                backbone,
                tokenizer,
                processor,
                names,
                cls(config),
                templates=templates,
                model_name=model_name,
                seed=seed,
            )
        else:
            classifier = VisionClassifier(
                backbone, processor, names, cls(config), model_name=model_name, seed=seed
            )
    except OSError as err:
        if isinstance(err, ModelNotAvailableError):
            raise
        raise _not_available(model, err) from err
    if device is not None:
        classifier.to(device)  # the parts created here (heads, adapter tensors) join the backbone
    return classifier


def _load_saved(
    folder: Path,
    class_names: Sequence[str] | None,
    adapter: str | None,
    templates: Sequence[str] | None,
    *,
    seed: int | None,
    torch_dtype: Any,
    device_map: Any,
    base_model: str | os.PathLike[str] | None,
    options: dict[str, Any],
) -> Classifier:
    """Rebuild the classifier an adapter folder describes, then load its trained state."""
    saved = read_adapter_description(folder)
    given = {
        "class_names": None if class_names is None else list(check_class_names(class_names)),
        "adapter": adapter,
        "templates": None if templates is None else list(templates),
    }
    for key, value in given.items():
        if value is not None and value != saved[key]:
            raise ValueError(
                f"{key}={value!r} differs from the {key} saved in {folder / ADAPTER_CONFIG_FILE} "
                f"({saved[key]!r}); omit it to use the saved one."
            )
    if options:
        raise ValueError(
            f"adapter options {sorted(options)} cannot be given for the adapter folder {str(folder)!r}: its "
            f"options come from {ADAPTER_CONFIG_FILE} ({saved['config']!r})."
        )
    model = _saved_base_model(folder, saved) if base_model is None else os.fspath(base_model)
    classifier = _load_model(
        model,
        saved["class_names"],
        saved["adapter"],
        saved["templates"],
        seed=int(saved["seed"]) if seed is None else seed,
        torch_dtype=saved["dtype"] if torch_dtype is None else torch_dtype,
        device_map=device_map,
        options=dict(saved["config"]),
    )
    return classifier.load_adapter(folder)


#: peft's description of a saved adapter.
PEFT_CONFIG = "adapter_config.json"

#: peft LoRA settings alnb's LoRA does not have, with the values that mean "not used".
_PEFT_UNUSED: dict[str, tuple[Any, ...]] = {
    "use_dora": (None, False),
    "bias": (None, "none"),
    "modules_to_save": (None, []),
    "rank_pattern": (None, {}),
    "alpha_pattern": (None, {}),
    "layers_to_transform": (None, []),
    "layer_replication": (None, []),
    "trainable_token_indices": (None, {}, []),
    "exclude_modules": (None, []),
    "fan_in_fan_out": (None, False),
    "lora_bias": (None, False),
    "use_qalora": (None, False),
    "target_parameters": (None, []),
    "alora_invocation_tokens": (None, []),
    "use_bdlora": (None, False),
    "velora_config": (None, {}),
    "monteclora_config": (None, {}),
    "arrow_config": (None, {}),
    "kasa_config": (None, {}),
}


def _load_peft_folder(
    folder: Path,
    class_names: Sequence[str] | None,
    adapter: str | None,
    templates: Sequence[str] | None,
    *,
    seed: int | None,
    torch_dtype: Any,
    device_map: Any,
    base_model: str | os.PathLike[str] | None,
    options: dict[str, Any],
) -> Classifier:
    """A LoRA folder peft wrote (``PeftModel.save_pretrained``, no ``alnb_adapter.json``) on a CLIP-like model.

    The classes must be given; the text side uses the templates, as alnb's LoRA does. Only the JSON config and the
    safetensors weights are read.
    """
    where = folder / PEFT_CONFIG
    if adapter not in (None, "lora"):
        raise ValueError(f"{str(folder)!r} holds a peft LoRA adapter; adapter={adapter!r} cannot load it.")
    if options:
        raise ValueError(
            f"adapter options {sorted(options)} cannot be given for {str(folder)!r}: {where} has them."
        )
    if class_names is None:
        raise ValueError(
            f"{str(folder)!r} is a peft adapter folder without {ADAPTER_CONFIG_FILE}, so it does not say the "
            "classes: pass class_names=[...] (alnb's own save_adapter() folders record them)."
        )
    try:
        peft = json.loads(where.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{where} is not valid JSON ({err}).") from err
    if not isinstance(peft, dict) or peft.get("peft_type") != "LORA":
        found = peft.get("peft_type") if isinstance(peft, dict) else type(peft).__name__
        raise ValueError(
            f"{where} describes a {found!r} adapter; alnb loads peft adapters of peft_type 'LORA'."
        )
    used = {k: peft[k] for k, unused in _PEFT_UNUSED.items() if peft.get(k) not in unused}
    raw_targets = peft.get("target_modules")
    if isinstance(raw_targets, str) or not raw_targets:
        used["target_modules"] = raw_targets  # a regular expression, or nothing
    if used:
        raise ValueError(
            f"{where} uses peft LoRA settings alnb's LoRA adapter does not have: {used}; alnb loads plain LoRA "
            "(r, lora_alpha, lora_dropout, use_rslora and a list of target_modules)."
        )
    targets = [str(t) for t in raw_targets or ()]
    model = os.fspath(base_model) if base_model is not None else peft.get("base_model_name_or_path")
    if not model:
        raise ValueError(
            f"{where} records no base_model_name_or_path; pass base_model=... to say which model."
        )
    lora_options = {
        "r": int(peft.get("r", 8)),
        "alpha": peft.get("lora_alpha", 8),
        "dropout": float(peft.get("lora_dropout", 0.0)),
        "use_rslora": bool(peft.get("use_rslora", False)),
        "towers": _towers(targets),
        "targets": tuple(sorted(targets)),
    }
    classifier = _load_model(
        str(model),
        class_names,
        "lora",
        templates,
        seed=0 if seed is None else seed,
        torch_dtype=torch_dtype,
        device_map=device_map,
        options=lora_options,
        families=("vision_language",),
        why=(
            f"a peft folder holds no classification head for it, so {str(folder)!r} cannot become a classifier "
            "(alnb's own save_adapter() folders of image models hold their head)."
        ),
    )
    lora = classifier.adapter
    if not isinstance(lora, LoRA):  # pragma: no cover - _load_model built a LoRA adapter
        raise TypeError(f"expected a LoRA adapter, got {type(lora).__name__}.")
    lora.load(classifier, folder)
    classifier.invalidate_caches()
    return classifier


def _towers(targets: Sequence[str]) -> str:
    """Which towers a peft ``target_modules`` list touches: full paths say; bare names apply to both."""
    if any("." not in t for t in targets):
        return "both"
    vision = any(t.startswith(("vision_model.", "visual_projection")) for t in targets)
    text = any(t.startswith(("text_model.", "text_projection")) for t in targets)
    return "both" if vision == text else ("vision" if vision else "text")


def _saved_base_model(folder: Path, saved: dict[str, Any]) -> str:
    """The recorded base model, or the embedded model of this installation when it was that one."""
    model = str(saved["model"])
    if saved.get("embedded_model") and not Path(model).is_dir():
        return DEFAULT_MODEL  # recorded on another machine or installation
    if (Path(model).expanduser().is_absolute() or model.startswith(".")) and not Path(
        model
    ).expanduser().is_dir():
        raise ModelNotAvailableError(
            f"the adapter in {str(folder)!r} was trained on the local model {model!r}, which does not exist "
            "here; pass its new location as load_classifier(folder, base_model=...)."
        )
    return model
