"""Where a classifier runs and in which precision its backbone is held: the one place that picks a device.

:func:`default_device` is the device accelerate itself would choose (Apple MPS, CUDA, XPU, NPU, … in accelerate's
order, else the CPU), so ``load_classifier(..., device_map="auto")`` and the :class:`~alnb.training.Trainer` (whose
``Accelerator`` is asked for a non-CPU device exactly when :func:`default_device` is not the CPU) agree.
"""

from __future__ import annotations

import os
from typing import Any

import torch

__all__ = ["DTYPES", "default_device", "resolve_device", "resolve_dtype"]

#: ``torch_dtype`` names :func:`resolve_dtype` accepts (besides ``torch.dtype`` objects and ``"auto"``).
DTYPES: dict[str, torch.dtype] = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
}


def _local_rank() -> int:
    """The process's index on this machine under ``accelerate launch`` / ``torchrun`` (0 otherwise)."""
    try:
        return int(os.environ.get("LOCAL_RANK", "0"))
    except ValueError:
        return 0


def default_device() -> torch.device:
    """The best device present, by accelerate's own rule (``PartialState.default_device``).

    Under ``accelerate launch`` with several processes on CUDA, each process gets its own GPU
    (``cuda:LOCAL_RANK``), as accelerate places it. Reading it starts no distributed state.

    Examples
    --------
    >>> default_device().type in {"cpu", "cuda", "mps", "xpu", "npu", "mlu", "musa", "hpu", "sdaa", "neuron"}
    True
    """
    from accelerate.state import PartialState

    # default_device does not read the instance; calling it unbound avoids PartialState(), which would start a
    # process group under a launcher as a side effect of merely loading a model.
    try:
        device = PartialState.default_device.fget(None)
    except (AttributeError, TypeError):  # an accelerate whose rule reads the instance
        device = PartialState().default_device
    if device.type == "cuda" and device.index is None and torch.cuda.device_count() > 1:
        return torch.device("cuda", _local_rank() % torch.cuda.device_count())
    return torch.device(device)


def resolve_device(device_map: Any) -> torch.device | None:
    """The one device ``load_classifier(device_map=...)`` puts the whole classifier on.

    Parameters
    ----------
    device_map : None, "auto", str, int or torch.device
        ``None``: leave the weights where ``from_pretrained`` puts them (the CPU; the Trainer moves the
        classifier to its device). ``"auto"``: :func:`default_device`. A device name (``"cpu"``, ``"cuda:1"``,
        ``"mps"``, …), a CUDA index or a ``torch.device``: that device, which must be present. alnb keeps a
        classifier on one device (adapters are small), so a dict spreading layers over devices is refused.

    Returns
    -------
    torch.device or None
    """
    if device_map is None:
        return None
    if isinstance(device_map, dict):
        raise ValueError(
            f"device_map must be None, 'auto', a device name such as 'cuda:0', 'mps' or 'cpu', or a torch.device; "
            f"got a dict {device_map!r:.80}. alnb keeps the whole classifier on one device."
        )
    if isinstance(device_map, str) and device_map == "auto":
        return default_device()
    if isinstance(device_map, bool) or not isinstance(device_map, str | int | torch.device):
        raise ValueError(
            f"device_map must be None, 'auto', a device name such as 'cuda:0', 'mps' or 'cpu', a CUDA index or a "
            f"torch.device; got {device_map!r}."
        )
    try:
        device = torch.device(device_map)
    except (RuntimeError, ValueError) as err:
        raise ValueError(
            f"device_map={device_map!r} is not a device torch knows ({err}); expected e.g. 'auto', 'cpu', "
            "'cuda:0' or 'mps'."
        ) from err
    _check_present(device, device_map)
    return device


def _check_present(device: torch.device, device_map: Any) -> None:
    if device.type == "cpu":
        return
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0 or (device.index is not None and device.index >= count):
            raise ValueError(
                f"device_map={device_map!r} asks for {device}, but this machine has {count} CUDA device(s); "
                "use device_map='auto' to take the best device present."
            )
        return
    module = getattr(torch, device.type, None)
    if device.type == "mps":
        present = torch.backends.mps.is_available()
    else:
        present = bool(module is not None and getattr(module, "is_available", lambda: False)())
    if not present:
        raise ValueError(
            f"device_map={device_map!r} asks for a {device.type!r} device, which is not available here; use "
            "device_map='auto' to take the best device present."
        )


def resolve_dtype(torch_dtype: Any) -> torch.dtype | str:
    """The ``dtype`` ``from_pretrained`` gets for ``load_classifier(torch_dtype=...)``.

    ``None`` means ``torch.float32`` (alnb's default, whatever the checkpoint was saved in); ``"auto"`` takes the
    checkpoint's own dtype; ``torch.bfloat16`` (or ``"bfloat16"`` / ``"bf16"``) halves the backbone's memory, and
    ``torch.float16`` / ``"float16"`` likewise. The adapter's trainable tensors stay float32 in every case.
    """
    if torch_dtype is None:
        return torch.float32
    if isinstance(torch_dtype, torch.dtype):
        if torch_dtype in DTYPES.values():
            return torch_dtype
    elif isinstance(torch_dtype, str):
        if torch_dtype == "auto":
            return "auto"
        key = torch_dtype.removeprefix("torch.")
        if key in DTYPES:
            return DTYPES[key]
    raise ValueError(
        f"torch_dtype must be None (float32), 'auto' (the checkpoint's dtype), torch.float32, torch.bfloat16 or "
        f"torch.float16 (or their names), got {torch_dtype!r}."
    )
