"""A component for bench/sse_latency.py: an MLP that logs, every step, when it called self.log.

`sent_at` is `time.time() - t0` (small, so float32 keeps microseconds), so a client on the same
machine knows when the value it receives was logged. The training loop's own duration is
printed as LOOP_SECONDS=... (it reaches the job's log, or the baseline's stdout).
"""

from __future__ import annotations

import time
from typing import Any

import torch
from torch import nn

import trainer_core as L
from catalog.registry import register


class LatencyProbe(L.LightningModule):
    """MLP regression whose `sent_at` metric is the wall-clock time of its self.log call."""

    def __init__(self, t0: float = 0.0, features: int = 256, width: int = 512) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(
            nn.Linear(features, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
            nn.Linear(width, 1),
        )  # fmt: skip
        self._started = 0.0

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        x = batch[0]
        loss = nn.functional.mse_loss(self.net(x).squeeze(-1), x[:, 0])
        self.log("train_loss", loss)
        self.log("sent_at", time.time() - self.hparams.t0)
        return loss

    def on_train_start(self) -> None:
        self._started = time.perf_counter()

    def on_train_end(self) -> None:
        print(f"LOOP_SECONDS={time.perf_counter() - self._started:.4f}", flush=True)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=0.01)


register(LatencyProbe, name="latency_probe", kind="module")
