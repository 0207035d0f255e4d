"""Throughput over a rolling window, FLOP counting, and the theoretical FLOPs of common GPUs.

The metric names and rules are Lightning Fabric's ``Throughput``: ``time``, ``batches``,
``samples`` (and ``lengths``) always; ``device/batches_per_sec`` and ``device/samples_per_sec``
once ``window_size`` updates were seen; ``device/flops_per_sec`` and ``device/mfu`` when FLOPs
per batch (and the device's peak) are known.
"""

from __future__ import annotations

import warnings
from collections import deque
from collections.abc import Callable
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

_Metrics = dict[str, int | float]


class _MonotonicWindow(list):
    """A fixed-size list that refuses values that do not increase (a broken timer or counter)."""

    def __init__(self, maxlen: int) -> None:
        super().__init__()
        self.maxlen = maxlen

    def append(self, value: Any) -> None:
        if self and self[-1] >= value:
            raise ValueError(f"Expected the value to increase, last: {self[-1]}, current: {value}")
        list.append(self, value)
        if len(self) > self.maxlen:
            del self[0]


class Throughput:
    """Totals and per-second rates from cumulative ``update(time=, batches=, samples=)`` calls."""

    def __init__(
        self,
        available_flops: float | None = None,
        world_size: int = 1,
        window_size: int = 100,
        separator: str = "/",
    ) -> None:
        if world_size < 1:
            raise ValueError(f"world_size must be >= 1, got {world_size}")
        if window_size < 2:  # rates are the difference between the window's ends
            raise ValueError(f"window_size must be >= 2, got {window_size}")
        self.available_flops = available_flops
        self.separator = separator
        self.world_size = world_size
        self._time = _MonotonicWindow(window_size)
        self._batches = _MonotonicWindow(window_size)
        self._samples = _MonotonicWindow(window_size)
        self._lengths = _MonotonicWindow(window_size)
        self._flops: deque[int] = deque(maxlen=window_size)

    def update(
        self,
        *,
        time: float,
        batches: int,
        samples: int,
        lengths: int | None = None,
        flops: int | None = None,
    ) -> None:
        """Cumulative time/batches/samples/lengths; ``flops`` of the work since the last call."""
        self._time.append(time)
        if samples < batches:
            raise ValueError(
                f"Expected samples ({samples}) to be greater or equal than batches ({batches})"
            )
        self._batches.append(batches)
        self._samples.append(samples)
        if lengths is not None:
            if lengths < samples:
                raise ValueError(
                    f"Expected lengths ({lengths}) to be greater or equal than samples ({samples})"
                )
            self._lengths.append(lengths)
            if len(self._samples) != len(self._lengths):
                raise RuntimeError(
                    f"If lengths are passed ({len(self._lengths)}), there needs to be the same "
                    f"number of samples ({len(self._samples)})"
                )
        if flops is not None:
            self._flops.append(flops * self.world_size)

    def compute(self) -> _Metrics:
        sep = self.separator
        metrics: _Metrics = {
            "time": self._time[-1],
            "batches": self._batches[-1],
            "samples": self._samples[-1],
        }
        if self._lengths:
            metrics["lengths"] = self._lengths[-1]
        several = self.world_size > 1
        if len(self._time) == self._time.maxlen:
            elapsed = self._time[-1] - self._time[0]
            batches_per_sec = (self._batches[-1] - self._batches[0]) / elapsed
            samples_per_sec = (self._samples[-1] - self._samples[0]) / elapsed
            metrics[f"device{sep}batches_per_sec"] = batches_per_sec
            metrics[f"device{sep}samples_per_sec"] = samples_per_sec
            if several:
                metrics["batches_per_sec"] = batches_per_sec * self.world_size
                metrics["samples_per_sec"] = samples_per_sec * self.world_size
            if len(self._lengths) == self._lengths.maxlen:
                items_per_sec = (self._lengths[-1] - self._lengths[0]) / elapsed
                metrics[f"device{sep}items_per_sec"] = items_per_sec
                if several:
                    metrics["items_per_sec"] = items_per_sec * self.world_size
        if len(self._flops) == self._flops.maxlen:
            flops_per_sec = (sum(self._flops) - self._flops[0]) / (self._time[-1] - self._time[0])
            device_flops_per_sec = flops_per_sec / self.world_size
            if several:
                metrics["flops_per_sec"] = flops_per_sec
            metrics[f"device{sep}flops_per_sec"] = device_flops_per_sec
            if self.available_flops:
                metrics[f"device{sep}mfu"] = device_flops_per_sec / self.available_flops
        return metrics

    def reset(self) -> None:
        for window in (self._time, self._batches, self._samples, self._lengths, self._flops):
            window.clear()


def measure_flops(
    model: torch.nn.Module,
    forward_fn: Callable[[], torch.Tensor],
    loss_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> int:
    """FLOPs of ``forward_fn()`` (and of ``loss_fn``'s backward, when given); a meta-device model
    costs nothing to measure."""
    counter = FlopCounterMode(display=False)
    with counter:
        if loss_fn is None:
            forward_fn()
        else:
            loss_fn(forward_fn()).backward()
    return int(counter.get_total_flops())


# Peak dense FLOPs per device and dtype (Lightning Fabric's table, datacenter and common cards).
_CUDA_FLOPS: dict[str, dict[Any, float]] = {
    "h200 sxm1": {torch.float64: 3.4e13, torch.float32: 6.7e13, "tfloat32": 9.9e14,
                  torch.bfloat16: 2.0e15, torch.float16: 2.0e15, torch.int8: 4.0e15},
    "h200 nvl1": {torch.float64: 3.0e13, torch.float32: 6.0e13, "tfloat32": 8.4e14,
                  torch.bfloat16: 1.7e15, torch.float16: 1.7e15, torch.int8: 3.3e15},
    "h100 nvl": {torch.float64: 67e12, torch.float32: 133.8e12, "tfloat32": 989.4e12,
                 torch.bfloat16: 1978.8e12, torch.float16: 1978.8e12, torch.int8: 3957.8e12},
    "h100 sxm": {torch.float64: 33.5e12, torch.float32: 66.9e12, "tfloat32": 494.7e12,
                 torch.bfloat16: 989.4e12, torch.float16: 989.4e12, torch.int8: 1978.9e12},
    "h100 pcie": {torch.float64: 25.6e12, torch.float32: 51.2e12, "tfloat32": 378e12,
                  torch.bfloat16: 756e12, torch.float16: 756e12, torch.int8: 1513e12},
    "a100": {torch.float64: 9.7e12, torch.float32: 19.5e12, "tfloat32": 156e12,
             torch.bfloat16: 312e12, torch.float16: 312e12, torch.int8: 624e12},
    "l4": {torch.float32: 30.3e12, "tfloat32": 60e12, torch.bfloat16: 121e12,
           torch.float16: 121e12, torch.int8: 242e12},
    "l40": {torch.float32: 90.5e12, "tfloat32": 90.5e12, torch.bfloat16: 181e12,
            torch.float16: 181e12, torch.int8: 362e12},
    "a10g": {torch.float32: 31.2e12, "tfloat32": 62.5e12, torch.bfloat16: 125e12,
             torch.float16: 125e12, torch.int8: 250e12},
    "a6000": {torch.float32: 38.7e12, "tfloat32": 77.4e12, torch.bfloat16: 38.7e12,
              torch.float16: 38.7e12, torch.int8: 309.7e12},
    "a40": {torch.float32: 37.4e12, "tfloat32": 74.8e12, torch.bfloat16: 37.4e12,
            torch.float16: 37.4e12, torch.int8: 299.3e12},
    "t4": {torch.float32: 8.1e12, torch.float16: 65e12, torch.int8: 130e12},
    "v100 sxm": {torch.float64: 7.8e12, torch.float32: 15.7e12, torch.float16: 125e12},
    "v100 pcie": {torch.float64: 7e12, torch.float32: 14e12, torch.float16: 112e12},
    "rtx 4090": {torch.float32: 82.6e12, "tfloat32": 82.6e12, torch.bfloat16: 82.6e12,
                 torch.float16: 82.6e12, torch.int8: 660.6e12},
    "rtx 3090": {torch.float32: 35.6e12, "tfloat32": 35.6e12, torch.bfloat16: 35.6e12,
                 torch.float16: 35.6e12, torch.int8: 284e12},
}  # fmt: skip


def _chip(device_name: str) -> str:
    """The table key for a CUDA device name (Lightning's matching rules)."""
    chip = device_name.lower()
    if "h200" in chip:
        return "h200 nvl1" if "nvl" in chip else "h200 sxm1"
    if "h100" in chip:
        if "nvl" in chip:
            return "h100 nvl"
        return "h100 pcie" if "pcie" in chip or "hbm2e" in chip else "h100 sxm"
    if "l4" in chip:
        return "l40" if "tesla" in chip or "l40" in chip else "l4"
    if "geforce rtx" in chip:
        return f"rtx {chip.split(' ')[3]}"
    for key in ("a6000", "a100", "a40", "a10g", "t4"):
        if key in chip:
            return key
    if "v100" in chip:
        return "v100 pcie" if "pcie" in chip else "v100 sxm"
    return chip


def get_available_flops(device: torch.device, dtype: torch.dtype | str) -> int | None:
    """Peak FLOPs of ``device`` in ``dtype`` (TF32 when float32 matmuls may use it); None, with a
    warning, for a GPU the table does not know. CPUs have no entry: None, silently."""
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    table = _CUDA_FLOPS.get(_chip(name))
    if table is None:
        warnings.warn(f"FLOPs not found for {name!r}", stacklevel=2)
        return None
    ampere_or_later = torch.cuda.get_device_capability(device)[0] >= 8
    if dtype is torch.float32 and ampere_or_later:
        if torch.get_float32_matmul_precision() != "highest":
            dtype = "tfloat32"
    if dtype not in table:
        warnings.warn(f"{name!r} does not support {dtype}", stacklevel=2)
        return None
    return int(table[dtype])
