"""Storage and reduction behind ``self.log``.

Logged tensors stay detached tensors on their device: nothing here calls ``.item()``, so logging
every step never forces a device sync. Epoch reductions keep the per-step values in a list and
reduce them once at epoch end (one ``stack`` instead of two tensor ops per step).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from trainer_core.data import extract_batch_size
from trainer_core.utilities.exceptions import MisconfigurationException

DATALOADER_SUFFIX = "/dataloader_idx_{}"
_REDUCTIONS = {"mean": "mean", "avg": "mean", "sum": "sum", "max": "max", "min": "min"}
_COMPACT_EVERY = 1024  # bound memory on very long epochs


def parse_reduce_fx(reduce_fx: Any) -> str:
    """Map "mean"/"avg"/"sum"/"max"/"min" or torch/builtin functions of those names to a name."""
    name = reduce_fx if isinstance(reduce_fx, str) else getattr(reduce_fx, "__name__", None)
    parsed = _REDUCTIONS.get(str(name).lower()) if name is not None else None
    if parsed is None:
        raise MisconfigurationException(
            f"Only `self.log(..., reduce_fx=...)` in {{'mean', 'avg', 'sum', 'max', 'min'}} is "
            f"supported, got {reduce_fx!r}. For a custom reduction log a torchmetrics Metric."
        )
    return parsed


@dataclass(frozen=True, slots=True)
class MetricMeta:
    """How one ``self.log`` key was logged; logging it again must use the same options."""

    fx: str
    name: str
    prog_bar: bool
    logger: bool
    on_step: bool
    on_epoch: bool
    reduce_fx: str
    add_dataloader_idx: bool
    dataloader_idx: int | None

    @property
    def forked(self) -> bool:
        return self.on_step and self.on_epoch

    def names(self, on_step: bool) -> tuple[str, str]:
        """(plain name, forked name) with the dataloader suffix."""
        forked = self.name + ("_step" if on_step else "_epoch") if self.forked else self.name
        if self.add_dataloader_idx and self.dataloader_idx is not None:
            suffix = DATALOADER_SUFFIX.format(self.dataloader_idx)
            return self.name + suffix, forked + suffix
        return self.name, forked


def _float_dtype() -> torch.dtype:
    dtype = torch.get_default_dtype()
    return dtype if dtype in (torch.float32, torch.float64) else torch.float32


def _stored_tensor(value: torch.Tensor, name: str, fx: str) -> torch.Tensor:
    """A detached float32/64 copy-safe tensor; a fresh graph output needs no clone."""
    if value.requires_grad:
        value = value.detach()
    elif value.is_leaf:
        value = value.clone()  # may be a buffer the user updates in place later
    if value.dtype not in (torch.float32, torch.float64):
        if not torch.is_floating_point(value):
            warnings.warn(
                f"You called `self.log({name!r}, ...)` in your `{fx}` but the value needs to be "
                f"floating to be reduced. Converting it to {_float_dtype()}.",
                stacklevel=4,
            )
        value = value.to(_float_dtype())
    return value


class LoggedMetric:
    """One key: its latest step value and the values needed for its epoch reduction."""

    __slots__ = (
        "meta",
        "options",
        "step_names",
        "epoch_names",
        "step_value",
        "values",
        "weights",
        "partial",
        "has_reset",
        "computed",
        "metric_obj",
    )

    def __init__(self, meta: MetricMeta) -> None:
        self.meta = meta
        self.options: tuple = ()
        # (plain, forked) names per level, built once: metrics() runs on every logged step
        self.step_names = meta.names(True)
        self.epoch_names = meta.names(False)
        self.step_value: torch.Tensor | None = None
        self.metric_obj: Any = None
        self.reset()

    def reset(self) -> None:
        if getattr(self, "metric_obj", None) is not None:
            self.metric_obj.reset()  # a logged torchmetrics Metric starts the next epoch empty
        self.values: list[torch.Tensor] = []
        self.weights: list[int] = []
        self.partial: tuple[torch.Tensor, float] | None = None
        self.computed: torch.Tensor | None = None
        self.has_reset = True

    def update(self, value: torch.Tensor, batch_size: int) -> None:
        self.has_reset = False
        self.computed = None
        if self.meta.on_step:
            self.step_value = value
        if self.meta.on_epoch:
            self.values.append(value)
            self.weights.append(batch_size)
            if len(self.values) >= _COMPACT_EVERY:
                self.partial = self._reduce()
                self.values, self.weights = [], []

    def update_metric(self, metric: Any) -> None:
        """A torchmetrics Metric: step value is its forward cache, epoch value its compute()."""
        self.has_reset = False
        self.computed = None
        self.metric_obj = metric
        cache = getattr(metric, "_forward_cache", None)
        self.step_value = cache.detach() if isinstance(cache, torch.Tensor) else None

    def _reduce(self) -> tuple[torch.Tensor, float]:
        """(reduced value, total weight) over the stored values and any earlier partial.

        Sums are accumulated strictly in order and in the values' dtype, as Lightning's running
        ``value + v * batch_size`` does, so epoch means match Lightning bit for bit.
        """
        op = self.meta.reduce_fx
        stacked = torch.stack(self.values)
        if op in ("mean", "sum"):
            weight = float(sum(self.weights)) if op == "mean" else 1.0
            if op == "mean":
                stacked = stacked * torch.tensor(
                    self.weights, dtype=stacked.dtype, device=stacked.device
                )
            terms = stacked.detach().cpu().numpy()
            if self.partial is not None:
                prev, prev_weight = self.partial
                terms = np.concatenate([prev.detach().cpu().numpy().reshape(1), terms])
                weight += prev_weight if op == "mean" else 0.0
            total = torch.tensor(np.add.accumulate(terms)[-1], device=stacked.device)
            return total, weight
        total = stacked.max() if op == "max" else stacked.min()
        if self.partial is not None:
            prev = self.partial[0]
            total = torch.maximum(total, prev) if op == "max" else torch.minimum(total, prev)
        return total, 1.0

    def compute(self) -> torch.Tensor | None:
        if self.computed is not None:
            return self.computed
        if self.metric_obj is not None:
            self.computed = self.metric_obj.compute().detach()
            return self.computed
        if not self.values and self.partial is None:
            return None
        total, weight = self._reduce() if self.values else self.partial  # type: ignore[misc]
        if self.meta.reduce_fx == "mean":  # divide by an integer tensor, as Lightning does
            total = total / torch.tensor(int(weight), device=total.device)
        self.computed = total
        return self.computed


class Results:
    """The metrics one stage (training, or one evaluation run) logged."""

    def __init__(self, training: bool) -> None:
        self.training = training
        self.metrics_by_key: dict[tuple, LoggedMetric] = {}
        self.batch: Any = None
        self.batch_size: int | None = None
        self.dataloader_idx: int | None = None

    def on_batch_start(self, batch: Any, dataloader_idx: int | None = None) -> None:
        self.batch = batch
        self.batch_size = None
        self.dataloader_idx = dataloader_idx

    def log(self, fx: str, name: str, value: Any, options: tuple, batch_size: int | None) -> None:
        """Store ``value`` under (hook, name); ``options`` are MetricMeta fields after fx/name."""
        dl_idx = self.dataloader_idx
        key = (fx, name, dl_idx if options[5] else None)
        metric = self.metrics_by_key.get(key)
        if metric is None:
            prog_bar, to_logger, on_step, on_epoch, reduce, add_idx = options
            meta = MetricMeta(
                fx, name, prog_bar, to_logger, on_step, on_epoch, reduce, add_idx, dl_idx
            )
            metric = self.metrics_by_key[key] = LoggedMetric(meta)
            metric.options = options
        elif metric.options != options:
            raise MisconfigurationException(
                f"You called `self.log({name}, ...)` twice in `{fx}` with different arguments. "
                "Log it with the same options each time."
            )
        if not isinstance(value, torch.Tensor):
            metric.update_metric(value)
            return
        value = _stored_tensor(value, name, fx)
        if batch_size is None and options[3] and options[4] == "mean":  # on_epoch, mean
            batch_size = self.batch_size
            if batch_size is None:
                batch_size = self._batch_size()
        metric.update(value, batch_size or 1)

    def _batch_size(self) -> int:
        if self.batch_size is None:
            self.batch_size = extract_batch_size(self.batch) if self.batch is not None else 1
        return self.batch_size

    def reset(self, fx: str | None = None) -> None:
        for metric in self.metrics_by_key.values():
            if fx is None or metric.meta.fx == fx:
                metric.reset()

    def metrics(self, on_step: bool) -> tuple[dict, dict, dict]:
        """(callback, logged, progress-bar) dicts of tensors for step or epoch level."""
        callback: dict[str, torch.Tensor] = {}
        logged: dict[str, torch.Tensor] = {}
        pbar: dict[str, torch.Tensor] = {}
        for metric in self.metrics_by_key.values():
            meta = metric.meta
            if metric.has_reset or meta.dataloader_idx != self.dataloader_idx:
                continue
            if on_step:
                value = metric.step_value if meta.on_step else None
            else:
                value = metric.compute() if meta.on_epoch else None
            if value is None:
                continue
            name, forked = metric.step_names if on_step else metric.epoch_names
            if meta.logger:
                logged[forked] = value
            if self.training or (meta.on_epoch and not on_step):
                callback[name] = value
                callback[forked] = value
            if meta.prog_bar:
                pbar[forked] = value
        return callback, logged, pbar

    def step_logged(self) -> dict[str, torch.Tensor]:
        """``metrics(True)[1]`` alone: the logger's row, built on every logged step."""
        logged: dict[str, torch.Tensor] = {}
        dataloader_idx = self.dataloader_idx
        for metric in self.metrics_by_key.values():
            meta = metric.meta
            if (
                meta.logger
                and meta.on_step
                and not metric.has_reset
                and meta.dataloader_idx == dataloader_idx
                and metric.step_value is not None
            ):
                logged[metric.step_names[1]] = metric.step_value
        return logged
