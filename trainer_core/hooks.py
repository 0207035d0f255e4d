"""Overridable hooks of LightningModule and LightningDataModule, with their default behaviour."""

from __future__ import annotations

from typing import Any

import torch
from torch.optim import Optimizer

from trainer_core.data import move_data_to_device
from trainer_core.utilities.exceptions import MisconfigurationException


def is_overridden(name: str, obj: Any, base: type) -> bool:
    """Whether ``obj`` replaces ``base``'s method ``name``: on its class or as an attribute.

    A method ``base`` lacks (``validation_step`` on LightningModule) counts as overridden when
    ``obj`` has it, so "does the user implement this hook?" is one question everywhere.
    """
    if obj is None:
        return False
    if name in getattr(obj, "__dict__", ()):
        return callable(obj.__dict__[name])
    method = getattr(type(obj), name, None)
    return callable(method) and method is not getattr(base, name, None)


class ModelHooks:
    """Per-stage hooks; the defaults do nothing except the model eval/train/zero_grad ones."""

    def on_fit_start(self) -> None: ...

    def on_fit_end(self) -> None: ...

    def on_train_start(self) -> None: ...

    def on_train_end(self) -> None: ...

    def on_validation_start(self) -> None: ...

    def on_validation_end(self) -> None: ...

    def on_test_start(self) -> None: ...

    def on_test_end(self) -> None: ...

    def on_predict_start(self) -> None: ...

    def on_predict_end(self) -> None: ...

    def on_train_batch_start(self, batch: Any, batch_idx: int) -> int | None: ...

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None: ...

    def on_validation_batch_start(
        self, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> None: ...

    def on_validation_batch_end(
        self, outputs: Any, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> None: ...

    def on_test_batch_start(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> None: ...

    def on_test_batch_end(
        self, outputs: Any, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> None: ...

    def on_predict_batch_start(
        self, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> None: ...

    def on_predict_batch_end(
        self, outputs: Any, batch: Any, batch_idx: int, dataloader_idx: int = 0
    ) -> None: ...

    def on_validation_model_zero_grad(self) -> None:
        self.zero_grad()  # type: ignore[attr-defined]

    def on_validation_model_eval(self) -> None:
        self.trainer.model.eval()  # type: ignore[attr-defined]

    def on_validation_model_train(self) -> None:
        self.trainer.model.train()  # type: ignore[attr-defined]

    def on_test_model_eval(self) -> None:
        self.trainer.model.eval()  # type: ignore[attr-defined]

    def on_test_model_train(self) -> None:
        self.trainer.model.train()  # type: ignore[attr-defined]

    def on_predict_model_eval(self) -> None:
        self.trainer.model.eval()  # type: ignore[attr-defined]

    def on_train_epoch_start(self) -> None: ...

    def on_train_epoch_end(self) -> None: ...

    def on_validation_epoch_start(self) -> None: ...

    def on_validation_epoch_end(self) -> None: ...

    def on_test_epoch_start(self) -> None: ...

    def on_test_epoch_end(self) -> None: ...

    def on_predict_epoch_start(self) -> None: ...

    def on_predict_epoch_end(self) -> None: ...

    def on_before_zero_grad(self, optimizer: Optimizer) -> None: ...

    def on_before_backward(self, loss: torch.Tensor) -> None: ...

    def on_after_backward(self) -> None: ...

    def on_before_optimizer_step(self, optimizer: Optimizer) -> None: ...

    def configure_sharded_model(self) -> None: ...

    def configure_model(self) -> None: ...


class DataHooks:
    """Data preparation, dataloaders and batch transfer."""

    prepare_data_per_node: bool = True
    allow_zero_length_dataloader_with_multiple_devices: bool = False

    def prepare_data(self) -> None: ...

    def setup(self, stage: str) -> None: ...

    def teardown(self, stage: str) -> None: ...

    def train_dataloader(self) -> Any:
        raise MisconfigurationException(
            "`train_dataloader` must be implemented to be used with the Lightning Trainer"
        )

    def test_dataloader(self) -> Any:
        raise MisconfigurationException(
            "`test_dataloader` must be implemented to be used with the Lightning Trainer"
        )

    def val_dataloader(self) -> Any:
        raise MisconfigurationException(
            "`val_dataloader` must be implemented to be used with the Lightning Trainer"
        )

    def predict_dataloader(self) -> Any:
        raise MisconfigurationException(
            "`predict_dataloader` must be implemented to be used with the Lightning Trainer"
        )

    def transfer_batch_to_device(
        self, batch: Any, device: torch.device, dataloader_idx: int
    ) -> Any:
        return move_data_to_device(batch, device)

    def on_before_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        return batch

    def on_after_batch_transfer(self, batch: Any, dataloader_idx: int) -> Any:
        return batch


class CheckpointHooks:
    """Let the module add to, or read from, the checkpoint dict."""

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None: ...

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None: ...
