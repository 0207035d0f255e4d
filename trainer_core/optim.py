"""Normalising ``configure_optimizers`` output, and the LightningOptimizer wrapper."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

import torch
from torch.optim import Optimizer
from torch.optim.lr_scheduler import ReduceLROnPlateau

from trainer_core.utilities.exceptions import MisconfigurationException

_FORMS = (
    "Unsupported `configure_optimizers` return value {value!r}. Return one of: an Optimizer; a "
    "list/tuple of Optimizers; a tuple `([optimizers], [schedulers])`; a dict "
    "`{{'optimizer': opt, 'lr_scheduler': scheduler_or_config, 'monitor': 'metric'}}`; or a list "
    "of such dicts."
)


@dataclass
class LRSchedulerConfig:
    scheduler: Any
    name: str | None = None
    interval: str = "epoch"
    frequency: int = 1
    reduce_on_plateau: bool = False
    monitor: str | None = None
    strict: bool = True


_CONFIG_KEYS = {f.name for f in fields(LRSchedulerConfig)}


class _MockOptimizer(Optimizer):
    """Stands in when configure_optimizers returns None; step() only runs the closure."""

    def __init__(self) -> None:
        super().__init__([torch.zeros(1)], {})

    def step(self, closure: Callable[[], Any] | None = None) -> Any:  # type: ignore[override]
        return closure() if closure is not None else None

    def zero_grad(self, set_to_none: bool | None = True) -> None: ...

    def __repr__(self) -> str:
        return "No Optimizer"


def configure_optimizers(
    value: Any,
) -> tuple[list[Optimizer], list[LRSchedulerConfig], str | None]:
    """(optimizers, scheduler configs, top-level monitor) from any supported return form."""
    monitor = None
    schedulers: list[Any] = []
    if value is None:
        warnings.warn(
            "`LightningModule.configure_optimizers` returned `None`, this fit will run with no "
            "optimizer",
            stacklevel=3,
        )
        return [_MockOptimizer()], [], None
    if isinstance(value, Optimizer):
        optimizers = [value]
    elif isinstance(value, Mapping):
        optimizers, schedulers, monitor = _from_dict(value)
    elif isinstance(value, (list, tuple)) and value and all(isinstance(d, Mapping) for d in value):
        parts = [_from_dict(d) for d in value]
        optimizers = [o for p in parts for o in p[0]]
        schedulers = [s for p in parts for s in p[1]]
    elif (
        isinstance(value, (list, tuple)) and value and all(isinstance(o, Optimizer) for o in value)
    ):
        optimizers = list(value)
    elif (
        isinstance(value, (list, tuple)) and len(value) == 2 and isinstance(value[0], (list, tuple))
    ):
        optimizers = list(value[0])
        schedulers = list(value[1]) if isinstance(value[1], (list, tuple)) else [value[1]]
        if not all(isinstance(o, Optimizer) for o in optimizers):
            raise MisconfigurationException(_FORMS.format(value=value))
    else:
        raise MisconfigurationException(_FORMS.format(value=value))
    configs = [_scheduler_config(s, monitor) for s in schedulers]
    return optimizers, configs, monitor


def _from_dict(value: Mapping[str, Any]) -> tuple[list[Optimizer], list[Any], str | None]:
    if "optimizer" not in value or not isinstance(value["optimizer"], Optimizer):
        raise MisconfigurationException(
            f"The dict returned by `configure_optimizers` needs an 'optimizer' key holding an "
            f"Optimizer; got keys {sorted(value)}."
        )
    extra = set(value) - {"optimizer", "lr_scheduler", "monitor"}
    if extra:
        warnings.warn(
            f"Found unsupported keys in the optimizer configuration: {extra}", stacklevel=4
        )
    schedulers = [value["lr_scheduler"]] if value.get("lr_scheduler") is not None else []
    monitor = value.get("monitor")
    if monitor is not None and schedulers and not isinstance(schedulers[0], Mapping):
        schedulers = [{"scheduler": schedulers[0], "monitor": monitor}]
    return [value["optimizer"]], schedulers, monitor


def _scheduler_config(scheduler: Any, monitor: str | None) -> LRSchedulerConfig:
    if isinstance(scheduler, Mapping):
        if "scheduler" not in scheduler:
            raise MisconfigurationException(
                'The lr scheduler dict must have the key "scheduler" with its item being an lr '
                "scheduler"
            )
        unknown = set(scheduler) - _CONFIG_KEYS
        if unknown:
            warnings.warn(
                f"Found unsupported keys in the lr scheduler dict: {unknown}.", stacklevel=4
            )
        kwargs = {k: v for k, v in scheduler.items() if k in _CONFIG_KEYS}
        if "interval" in kwargs and kwargs["interval"] not in ("step", "epoch"):
            raise MisconfigurationException(
                'The "interval" key in lr scheduler dict must be "step" or "epoch", but is '
                f'"{kwargs["interval"]}"'
            )
        kwargs.setdefault("reduce_on_plateau", isinstance(kwargs["scheduler"], ReduceLROnPlateau))
        config = LRSchedulerConfig(**kwargs)
    else:
        config = LRSchedulerConfig(
            scheduler, reduce_on_plateau=isinstance(scheduler, ReduceLROnPlateau), monitor=monitor
        )
    if config.reduce_on_plateau and config.monitor is None:
        raise MisconfigurationException(
            "`configure_optimizers` must include a monitor when a `ReduceLROnPlateau` scheduler is "
            'used. For example: {"optimizer": optimizer, "lr_scheduler": scheduler, "monitor": '
            '"metric_to_track"}'
        )
    return config


class LightningOptimizer:
    """Wraps an optimizer so ``step`` goes through the trainer (precision, hooks, step count).

    The instance's class is made a subclass of the wrapped optimizer's class, so
    ``isinstance(opt, torch.optim.SGD)`` still holds, and it shares the optimizer's state.
    """

    def __init__(self, optimizer: Optimizer) -> None:
        self.__dict__ = {
            k: v for k, v in optimizer.__dict__.items() if k not in ("step", "__del__")
        }
        self._optimizer = optimizer
        self._step_fn: Callable[..., Any] | None = None
        name = "Lightning" + optimizer.__class__.__name__
        self.__class__ = type(name, (self.__class__, optimizer.__class__), {})

    @property
    def optimizer(self) -> Optimizer:
        return self._optimizer

    def step(self, closure: Callable[[], Any] | None = None, **kwargs: Any) -> Any:
        """Run the closure, hooks and real step through the trainer's precision handling."""
        if self._step_fn is None:
            return self._optimizer.step(closure=closure, **kwargs)
        return self._step_fn(self._optimizer, closure, **kwargs)

    def zero_grad(self, set_to_none: bool = True) -> None:
        self._optimizer.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict[str, Any]:
        return self._optimizer.state_dict()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._optimizer.load_state_dict(state_dict)

    def __repr__(self) -> str:
        return f"Lightning{self._optimizer!r}"
