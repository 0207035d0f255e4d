"""Components and job specs for service tests (worker, e2e, fault tests).

Importing this module registers the components; a worker process sees them through
`COMPONENT_MODULES='["tests.service_doubles"]'` (run with the repository root on PYTHONPATH).
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import torch
from torch import nn

import trainer_core as L
from catalog.registry import register

COMPONENT_MODULE = "tests.service_doubles"


class TinyRegressor(L.LightningModule):
    """Linear regression of a sample's first feature; knobs to be slow, chatty or to fail.

    `sleep_s` per training step makes a job last long enough to cancel or kill; `fail_at_step`
    raises a ValueError in training_step at that global step; `say` prints a line and logs one
    through Python logging at the first step.
    """

    def __init__(
        self,
        in_dim: int = 8,
        lr: float = 0.05,
        sleep_s: float = 0.0,
        fail_at_step: int = -1,
        say: str = "",
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.layer = nn.Linear(in_dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(x.reshape(x.size(0), -1))

    def _loss(self, batch: Any) -> torch.Tensor:
        x = batch[0]
        return nn.functional.mse_loss(self(x).squeeze(-1), x[:, 0])

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        if self.global_step == self.hparams.fail_at_step:
            raise ValueError(f"boom at step {self.global_step}")
        if self.hparams.say and self.global_step == 0:
            print(self.hparams.say)
            logging.getLogger("tiny").warning("logged: %s", self.hparams.say)
        if self.hparams.sleep_s:
            time.sleep(self.hparams.sleep_s)
        loss = self._loss(batch)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        self.log("val_loss", self._loss(batch))

    def test_step(self, batch: Any, batch_idx: int) -> None:
        self.log("test_loss", self._loss(batch))

    def predict_step(self, batch: Any, batch_idx: int = 0, dataloader_idx: int = 0) -> Any:
        x = batch[0] if isinstance(batch, (list, tuple)) else batch
        return self(torch.as_tensor(x, dtype=torch.float32))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


register(TinyRegressor, name="tiny_regressor", kind="module")


class OomRegressor(TinyRegressor):
    """TinyRegressor whose training step runs out of (GPU) memory at `fail_at_step`."""

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        if self.global_step == self.hparams.fail_at_step:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return super().training_step(batch, batch_idx)


register(OomRegressor, name="oom_regressor", kind="module")


class DeviceReporter(TinyRegressor):
    """TinyRegressor that prints, when training starts, the CUDA_VISIBLE_DEVICES its process
    was started with (the fleet tests read it from the job's log)."""

    def on_train_start(self) -> None:
        print(f"CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES')!r} pid={os.getpid()}")


register(DeviceReporter, name="device_reporter", kind="module")


class MemoryHog(TinyRegressor):
    """TinyRegressor that, at step 2, allocates and holds `hog_mb` MiB of resident memory."""

    def __init__(
        self,
        in_dim: int = 8,
        lr: float = 0.05,
        sleep_s: float = 0.0,
        fail_at_step: int = -1,
        say: str = "",
        hog_mb: int = 0,
    ) -> None:
        super().__init__(in_dim, lr, sleep_s, fail_at_step, say)
        self.save_hyperparameters()
        self.hog: list[torch.Tensor] = []

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        if self.global_step == 2 and not self.hog:
            self.hog.append(torch.ones(self.hparams.hog_mb * 2**18))  # float32: written, resident
        return super().training_step(batch, batch_idx)


register(MemoryHog, name="memory_hog", kind="module")


def tiny_spec(
    *,
    module: str = "tiny_regressor",
    module_params: dict[str, Any] | None = None,
    max_epochs: int = 2,
    train_size: int = 64,
    batch_size: int = 16,
    **extra: Any,
) -> dict[str, Any]:
    """A job spec as POSTed (and as stored): a few steps on synthetic 8-feature data."""
    spec: dict[str, Any] = {
        "module": {"name": module, "params": module_params or {}},
        "datamodule": {
            "name": "synthetic",
            "params": {
                "shape": [8],
                "train_size": train_size,
                "val_size": 16,
                "test_size": 16,
                "batch_size": batch_size,
            },
        },
        "trainer": {"max_epochs": max_epochs, "log_every_n_steps": 1, "accelerator": "cpu"},
        "seed": 7,
    }
    spec.update(extra)
    return spec


class NamedMetricRegressor(TinyRegressor):
    """TinyRegressor that also logs its loss under `metric_name`, whatever that name is."""

    def __init__(self, metric_name: str = "extra", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.save_hyperparameters()

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        loss = super().training_step(batch, batch_idx)
        self.log(self.hparams.metric_name, loss)
        return loss


register(NamedMetricRegressor, name="named_metric_regressor", kind="module")


class ScaledLossLogger(L.Callback):
    """Logs the training loss times `factor` as `scaled_loss`: a user's own callback,
    registered the way modules are (its kind is inferred)."""

    def __init__(self, factor: float = 2.0) -> None:
        self.factor = factor

    def on_train_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        pl_module.log("scaled_loss", outputs["loss"] * self.factor)


register(ScaledLossLogger, name="scaled_loss_logger")
