"""``SpikeDetection``: stop training on a loss spike and write the batches to skip."""

from __future__ import annotations

import json
import os
from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

import torch

from trainer_core.callbacks.base import Callback

if TYPE_CHECKING:
    from trainer_core.module import LightningModule
    from trainer_core.trainer import Trainer


class TrainingSpikeException(RuntimeError):
    """Raised when a loss spike is detected."""

    def __init__(self, batch_idx: int, *args: Any, **kwargs: Any) -> None:
        super().__init__(f"Training spike detected in batch {batch_idx}", *args, **kwargs)


class SpikeDetection(Callback):
    """A loss that is worse than the running mean of the last ``window`` losses by more than
    ``atol`` and ``rtol`` (after ``warmup`` batches) raises ``TrainingSpikeException``; the
    batch and the one before it are written to ``exclude_batches_path`` (default
    ``<default_root_dir>/skip_batches.json``). With ``finite_only`` a NaN/inf loss is a spike.
    """

    def __init__(
        self,
        mode: Literal["min", "max"] = "min",
        window: int = 10,
        warmup: int = 1,
        atol: float | None = None,
        rtol: float | None = 2.0,
        exclude_batches_path: str | os.PathLike | None = None,
        finite_only: bool = True,
    ) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"Invalid mode. Has to be min or max, found {mode}")
        if window < 1:
            raise ValueError(f"`window` must be at least 1, got {window}")
        self.last_val: torch.Tensor | float = 0.0
        self.running_mean: deque[float] = deque(maxlen=window)
        self.mode = mode
        self.warmup = warmup
        self.atol = atol
        self.rtol = rtol
        self.bad_batches: list[int] = []
        self.exclude_batches_path = exclude_batches_path
        self.finite_only = finite_only

    @torch.no_grad()
    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if isinstance(outputs, torch.Tensor):
            loss = outputs.detach()
        elif isinstance(outputs, Mapping):
            loss = outputs["loss"].detach()
        else:
            raise TypeError(
                f"outputs have to be of type torch.Tensor or Mapping, got {type(outputs).__qualname__}"
            )
        if self.exclude_batches_path is None:
            self.exclude_batches_path = os.path.join(trainer.default_root_dir, "skip_batches.json")
        if not str(self.exclude_batches_path).endswith(".json"):
            self.exclude_batches_path = os.path.join(self.exclude_batches_path, "skip_batches.json")
        if batch_idx >= self.warmup and self._is_spike(loss):
            self._handle_spike(batch_idx)
        elif self.finite_only or bool(torch.isfinite(loss).all()):
            self._update_stats(loss)

    def _running_value(self) -> float:
        values = self.running_mean
        return sum(values) / len(values) if values else float("nan")

    def _is_spike(self, loss: torch.Tensor) -> bool:
        running = self._running_value()
        if self.finite_only and not torch.isfinite(loss):
            return True
        if self._is_better(loss - self.last_val):
            return False
        return self._check_atol(loss, running) and self._check_rtol(loss, running)

    def _handle_spike(self, batch_idx: int) -> None:
        # the batch before may already have corrupted the weights: skip both
        self.bad_batches.extend([batch_idx - 1, batch_idx])
        path = str(self.exclude_batches_path)
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "w") as f:
            json.dump(self.bad_batches, f, indent=4)
        raise TrainingSpikeException(batch_idx=batch_idx)

    def _check_atol(self, value: Any, reference: float) -> bool:
        return self.atol is None or bool(abs(value - reference) >= abs(self.atol))

    def _check_rtol(self, value: Any, reference: float) -> bool:
        return self.rtol is None or bool(abs(value - reference) >= abs(self.rtol * reference))

    def _is_better(self, diff: torch.Tensor) -> bool:
        if self.mode == "min":
            return bool((diff <= 0.0).all())
        return bool((diff >= 0).all())

    def _update_stats(self, value: torch.Tensor) -> None:
        self.running_mean.append(float(value))
        self.last_val = value

    def state_dict(self) -> dict[str, Any]:
        last = self.last_val.item() if isinstance(self.last_val, torch.Tensor) else self.last_val
        return {
            "last_val": last,
            "mode": self.mode,
            "warmup": self.warmup,
            "atol": self.atol,
            "rtol": self.rtol,
            "bad_batches": self.bad_batches,
            "bad_batches_path": self.exclude_batches_path,
            "running": {"values": list(self.running_mean), "window": self.running_mean.maxlen},
            "mean": {},
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.last_val = state_dict["last_val"]
        self.mode = state_dict["mode"]
        self.warmup = state_dict["warmup"]
        self.atol = state_dict["atol"]
        self.rtol = state_dict["rtol"]
        self.bad_batches = list(state_dict["bad_batches"])
        self.exclude_batches_path = state_dict["bad_batches_path"]
        running = state_dict.get("running") or {}
        window = running.get("window") or self.running_mean.maxlen
        self.running_mean = deque(running.get("values", []), maxlen=window)
