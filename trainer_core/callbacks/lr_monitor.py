"""LearningRateMonitor: log each optimizer's learning rate (and momentum, weight decay).

Names are Lightning's: ``lr-<OptimizerClass>``, ``-1``/``-2``... for more optimizers of one
class, ``/pg1``... (or the group's ``name``) for several parameter groups, or the scheduler
config's ``name``. Values go straight to the loggers at the trainer's logging steps, as in
Lightning, and into ``trainer.callback_metrics``.
"""

from __future__ import annotations

import itertools
import warnings
from collections import defaultdict
from typing import TYPE_CHECKING, Any, Literal

import torch
from torch.optim import Optimizer

from trainer_core.callbacks.base import Callback
from trainer_core.utilities.exceptions import MisconfigurationException

if TYPE_CHECKING:
    from trainer_core.optim import LRSchedulerConfig
    from trainer_core.trainer import Trainer

_Names = list[list[str]]


class LearningRateMonitor(Callback):
    """Log learning rates at every logging step (``"step"``), epoch start (``"epoch"``), or
    each scheduler's own interval (``None``); optimizers without a scheduler log every step."""

    def __init__(
        self,
        logging_interval: Literal["step", "epoch"] | None = None,
        log_momentum: bool = False,
        log_weight_decay: bool = False,
    ) -> None:
        if logging_interval not in (None, "step", "epoch"):
            raise MisconfigurationException(
                "logging_interval should be `step` or `epoch` or `None`."
            )
        self.logging_interval = logging_interval
        self.log_momentum = log_momentum
        self.log_weight_decay = log_weight_decay
        self.lrs: dict[str, list[float]] = {}
        self.last_momentum_values: dict[str, float | None] = {}
        self.last_weight_decay_values: dict[str, float | None] = {}

    def on_train_start(self, trainer: Trainer, *args: Any, **kwargs: Any) -> None:
        """Work out a unique name per optimizer and parameter group."""
        if not trainer.loggers:
            raise MisconfigurationException(
                "Cannot use `LearningRateMonitor` callback with `Trainer` that has no logger."
            )
        if self.log_momentum and _lacks(trainer, "momentum") and _lacks(trainer, "betas"):
            warnings.warn(
                "You have set log_momentum=True, but some optimizers do not have momentum. This "
                "will log a value 0 for the momentum.",
                RuntimeWarning,
                stacklevel=2,
            )
        names, seen, seen_types = self._find_names_from_schedulers(trainer.lr_scheduler_configs)
        optimizer_names, _ = self._find_names_from_optimizers(trainer.optimizers, seen, seen_types)
        flat = list(itertools.chain.from_iterable(names + optimizer_names))
        self.lrs = {name: [] for name in flat}
        self.last_momentum_values = {f"{name}-momentum": None for name in flat}
        self.last_weight_decay_values = {f"{name}-weight_decay": None for name in flat}

    def on_train_batch_start(self, trainer: Trainer, *args: Any, **kwargs: Any) -> None:
        if not trainer._hub.should_update_logs or self.logging_interval == "epoch":
            return
        self._log(trainer, "step" if self.logging_interval is None else "any")

    def on_train_epoch_start(self, trainer: Trainer, *args: Any, **kwargs: Any) -> None:
        if self.logging_interval != "step":
            self._log(trainer, "epoch" if self.logging_interval is None else "any")

    def _log(self, trainer: Trainer, interval: str) -> None:
        stats = self._extract_stats(trainer, interval)
        if stats:
            step = trainer.state.batches_that_stepped
            for logger in trainer.loggers:
                logger.log_metrics(stats, step=step)

    def _extract_stats(self, trainer: Trainer, interval: str) -> dict[str, float]:
        stats: dict[str, float] = {}
        names, seen, seen_types = self._find_names_from_schedulers(trainer.lr_scheduler_configs)
        self._remap_keys(names)
        for group_names, config in zip(names, trainer.lr_scheduler_configs, strict=False):
            if interval in (config.interval, "any"):
                stats.update(self._optimizer_stats(config.scheduler.optimizer, group_names))
        optimizer_names, unscheduled = self._find_names_from_optimizers(
            trainer.optimizers, seen, seen_types
        )
        self._remap_keys(optimizer_names)
        for optimizer, group_names in zip(unscheduled, optimizer_names, strict=False):
            stats.update(self._optimizer_stats(optimizer, group_names))
        trainer.callback_metrics.update(
            {name: torch.tensor(value, device=trainer.device) for name, value in stats.items()}
        )
        return stats

    def _optimizer_stats(self, optimizer: Optimizer, names: list[str]) -> dict[str, float]:
        stats: dict[str, float] = {}
        use_betas = "betas" in optimizer.defaults
        for group, name in zip(optimizer.param_groups, names, strict=False):
            self.lrs[name].append(group["lr"])
            stats[name] = group["lr"]
            if self.log_momentum:
                momentum = group["betas"][0] if use_betas else group.get("momentum", 0)
                self.last_momentum_values[f"{name}-momentum"] = momentum
                stats[f"{name}-momentum"] = momentum
            if self.log_weight_decay:
                decay = group["weight_decay"]
                self.last_weight_decay_values[f"{name}-weight_decay"] = decay
                stats[f"{name}-weight_decay"] = decay
        return stats

    def _remap_keys(self, names: _Names, token: str = "/pg1") -> None:  # noqa: S107
        """An optimizer that gained parameter groups: its history moves to ``<name>/pg1``."""
        for group_names in names:
            for new_name in group_names:
                old_name = new_name.replace(token, "")
                if token in new_name and old_name in self.lrs:
                    self.lrs[new_name] = self.lrs.pop(old_name)
                elif new_name not in self.lrs:
                    self.lrs[new_name] = []

    @staticmethod
    def _add_prefix(name: str, optimizer_cls: type, seen_types: defaultdict[type, int]) -> str:
        if optimizer_cls not in seen_types:
            return name
        count = seen_types[optimizer_cls]
        return name + f"-{count - 1}" if count > 1 else name

    @staticmethod
    def _add_suffix(name: str, param_groups: list[dict], index: int) -> str:
        if len(param_groups) > 1:
            return f"{name}/{param_groups[index].get('name', f'pg{index + 1}')}"
        group_name = param_groups[index].get("name")
        return f"{name}/{group_name}" if group_name else name

    @staticmethod
    def _duplicate_param_group_names(param_groups: list[dict]) -> set[str]:
        names = [pg.get("name", f"pg{i}") for i, pg in enumerate(param_groups, start=1)]
        return {n for n in names if names.count(n) > 1}

    def _find_names_from_schedulers(
        self, configs: list[LRSchedulerConfig]
    ) -> tuple[_Names, list[Optimizer], defaultdict[type, int]]:
        names: _Names = []
        seen: list[Optimizer] = []
        seen_types: defaultdict[type, int] = defaultdict(int)
        for config in configs:
            optimizer = config.scheduler.optimizer
            name = config.name if config.name is not None else f"lr-{type(optimizer).__name__}"
            names.append(self._unique_names(optimizer, name, seen, seen_types, config))
        return names, seen, seen_types

    def _find_names_from_optimizers(
        self, optimizers: list[Any], seen: list[Optimizer], seen_types: defaultdict[type, int]
    ) -> tuple[_Names, list[Optimizer]]:
        names: _Names = []
        unscheduled: list[Optimizer] = []
        for optimizer in optimizers:
            optimizer = getattr(optimizer, "optimizer", optimizer)  # a wrapped optimizer
            if optimizer in seen:
                continue
            name = f"lr-{type(optimizer).__name__}"
            names.append(self._unique_names(optimizer, name, seen, seen_types, None))
            unscheduled.append(optimizer)
        return names, unscheduled

    def _unique_names(
        self,
        optimizer: Optimizer,
        name: str,
        seen: list[Optimizer],
        seen_types: defaultdict[type, int],
        config: LRSchedulerConfig | None,
    ) -> list[str]:
        seen.append(optimizer)
        if config is None or config.name is None:
            seen_types[type(optimizer)] += 1
        groups = optimizer.param_groups
        duplicates = self._duplicate_param_group_names(groups)
        if duplicates:
            raise MisconfigurationException(
                "A single `Optimizer` cannot have multiple parameter groups with identical "
                f"`name` values. {name} has duplicated parameter group names {duplicates}"
            )
        name = self._add_prefix(name, type(optimizer), seen_types)
        return [self._add_suffix(name, groups, i) for i in range(len(groups))]


def _lacks(trainer: Trainer, key: str) -> bool:
    """Does any optimizer (the scheduled ones, when there are schedulers) lack ``key``?"""
    if trainer.lr_scheduler_configs:
        return any(
            key not in config.scheduler.optimizer.defaults
            for config in trainer.lr_scheduler_configs
        )
    return any(key not in optimizer.defaults for optimizer in trainer.optimizers)
