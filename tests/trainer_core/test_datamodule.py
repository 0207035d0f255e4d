"""LightningDataModule: the stages it drives, its saved state, its errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from torch.utils.data import DataLoader

import trainer_core as L
from tests.trainer_core.doubles import make_tiny_module, quiet_kwargs, tiny_loader
from trainer_core.utilities.exceptions import MisconfigurationException

TinyModule = make_tiny_module(L)


class Data(L.LightningDataModule):
    def __init__(self, batch_size: int = 4) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.calls: list[str] = []

    def prepare_data(self) -> None:
        self.calls.append("prepare_data")

    def setup(self, stage: str) -> None:
        self.calls.append(f"setup:{stage}")

    def train_dataloader(self) -> DataLoader:
        return tiny_loader(batch_size=self.hparams.batch_size)

    def val_dataloader(self) -> DataLoader:
        return tiny_loader(8)

    def state_dict(self) -> dict[str, Any]:
        return {"seen": len(self.calls)}

    def teardown(self, stage: str) -> None:
        self.calls.append(f"teardown:{stage}")


def test_datamodule_drives_the_stages_and_is_saved(tmp_path: Path) -> None:
    data = Data()
    trainer = L.Trainer(**quiet_kwargs(tmp_path, max_epochs=1))
    trainer.fit(TinyModule(), data)  # a datamodule in the dataloaders position
    assert data.calls == ["prepare_data", "setup:fit", "teardown:fit"]
    ckpt = torch.load(trainer.checkpoint_callback.best_model_path, weights_only=True)
    assert ckpt["Data"] == {"seen": 2}
    assert ckpt["hyper_parameters"] == {"lr": 0.1}  # each side keeps its own hparams (2.6)
    assert ckpt["datamodule_hyper_parameters"] == {"batch_size": 4}
    with pytest.raises(MisconfigurationException, match="predict_dataloader"):
        trainer.predict(TinyModule(), datamodule=data)
    with pytest.raises(MisconfigurationException, match="both"):
        trainer.fit(TinyModule(), tiny_loader(), datamodule=data)


def test_datamodule_missing_train_loader_fails_before_any_hook(tmp_path: Path) -> None:
    class NoTrain(L.LightningDataModule):
        def setup(self, stage: str) -> None:
            raise AssertionError("setup must not run")

    with pytest.raises(MisconfigurationException, match="train_dataloader"):
        L.Trainer(**quiet_kwargs(tmp_path, max_epochs=1)).fit(TinyModule(), datamodule=NoTrain())
