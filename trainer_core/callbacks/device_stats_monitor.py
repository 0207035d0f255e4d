"""``DeviceStatsMonitor``: device statistics logged around every logged batch.

Keys are ``DeviceStatsMonitor.<hook>/<stat>``: on CPU psutil's ``cpu_percent``,
``cpu_vm_percent`` and ``cpu_swap_percent``; on CUDA ``torch.cuda.memory_stats`` (bytes and
counts), plus the CPU ones when ``cpu_stats=True``.
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Any

import torch

from trainer_core.callbacks.base import Callback
from trainer_core.utilities.exceptions import MisconfigurationException

if TYPE_CHECKING:
    from trainer_core.module import LightningModule
    from trainer_core.trainer import Trainer


def psutil_available() -> bool:
    return importlib.util.find_spec("psutil") is not None


def get_cpu_stats() -> dict[str, float]:
    """System-wide CPU, memory and swap use (percent)."""
    if not psutil_available():
        raise ModuleNotFoundError(
            "Fetching CPU device stats requires `psutil` to be installed: pip install psutil"
        )
    import psutil

    return {
        "cpu_vm_percent": psutil.virtual_memory().percent,
        "cpu_percent": psutil.cpu_percent(),
        "cpu_swap_percent": psutil.swap_memory().percent,
    }


def get_device_stats(device: torch.device) -> dict[str, Any]:
    if device.type == "cuda":
        return dict(torch.cuda.memory_stats(device))
    if device.type == "cpu":
        return get_cpu_stats()
    return {}  # mps: Lightning reports nothing either


class DeviceStatsMonitor(Callback):
    """Logs device stats at the start and end of each train/val/test batch that logs."""

    def __init__(self, cpu_stats: bool | None = None) -> None:
        self._cpu_stats = cpu_stats

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if stage != "fit":
            return
        if not trainer.loggers:
            raise MisconfigurationException(
                "Cannot use `DeviceStatsMonitor` callback with `Trainer(logger=False)`."
            )
        if self._cpu_stats is None and trainer.device.type == "cpu" and not psutil_available():
            raise ModuleNotFoundError(
                "`DeviceStatsMonitor` cannot log CPU stats as `psutil` is not installed: "
                "pip install psutil"
            )

    def _get_and_log_device_stats(self, trainer: Trainer, key: str) -> None:
        if not trainer._hub.should_update_logs:
            return
        device = trainer.device
        if self._cpu_stats is False and device.type == "cpu":
            return
        stats = get_device_stats(device)
        if self._cpu_stats and device.type != "cpu":
            stats.update(get_cpu_stats())
        for logger in trainer.loggers:
            prefix = f"{self.__class__.__qualname__}.{key}{logger.group_separator}"
            logger.log_metrics(
                {prefix + k: v for k, v in stats.items()},
                step=trainer.fit_loop._batches_that_stepped,
            )

    def on_train_batch_start(
        self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int
    ) -> None:
        self._get_and_log_device_stats(trainer, "on_train_batch_start")

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        self._get_and_log_device_stats(trainer, "on_train_batch_end")

    def on_validation_batch_start(
        self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:  # fmt: skip
        self._get_and_log_device_stats(trainer, "on_validation_batch_start")

    def on_validation_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any,
        batch_idx: int, dataloader_idx: int = 0,
    ) -> None:  # fmt: skip
        self._get_and_log_device_stats(trainer, "on_validation_batch_end")

    def on_test_batch_start(
        self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None:  # fmt: skip
        self._get_and_log_device_stats(trainer, "on_test_batch_start")

    def on_test_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any,
        batch_idx: int, dataloader_idx: int = 0,
    ) -> None:  # fmt: skip
        self._get_and_log_device_stats(trainer, "on_test_batch_end")
