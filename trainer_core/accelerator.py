"""Picking the device: "auto" means CUDA, then MPS, then CPU; one device only."""

from __future__ import annotations

from typing import Any

import torch

from trainer_core.utilities.exceptions import MisconfigurationException

_GPU_NAMES = ("gpu", "cuda")


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def select_accelerator(accelerator: Any) -> str:
    """The accelerator kind ("cuda", "mps" or "cpu") for a Trainer(accelerator=...) value."""
    name = str(getattr(accelerator, "name", accelerator) or "auto").lower()
    if name == "auto":
        if torch.cuda.is_available():
            return "cuda"
        return "mps" if _mps_available() else "cpu"
    if name in _GPU_NAMES:
        if torch.cuda.is_available():
            return "cuda"
        if name == "gpu" and _mps_available():
            return "mps"
        raise MisconfigurationException(
            f"`Trainer(accelerator={accelerator!r})` was requested but no GPU is available. Use "
            "accelerator='cpu' or 'auto'."
        )
    if name == "mps":
        if not _mps_available():
            raise MisconfigurationException(
                "`accelerator='mps'` was requested but MPS is unavailable."
            )
        return "mps"
    if name == "cpu":
        return "cpu"
    raise MisconfigurationException(
        f"Unsupported `accelerator={accelerator!r}`: use 'auto', 'cpu', 'gpu', 'cuda' or 'mps'."
    )


def select_device(kind: str, devices: Any) -> torch.device:
    """One torch.device; trainer_core trains on a single device."""
    if kind == "cpu":
        if devices not in ("auto", 1, "1", None, -1, "-1"):
            raise MisconfigurationException(
                f"trainer_core runs on a single CPU process; got devices={devices!r}. Use devices=1."
            )
        return torch.device("cpu")
    index = _device_index(devices)
    return torch.device(kind, index) if kind == "cuda" else torch.device(kind)


def _device_index(devices: Any) -> int:
    if devices in ("auto", 1, "1", None, -1, "-1"):
        return 0
    if isinstance(devices, (list, tuple)) and len(devices) == 1:
        return int(devices[0])
    if isinstance(devices, str) and devices.strip(",").isdigit() and devices.endswith(","):
        return int(devices.strip(","))
    raise MisconfigurationException(
        f"trainer_core trains on one device; got devices={devices!r}. Use devices=1 or [index]."
    )
