"""scikit-learn's bundled 8x8 handwritten digits (1,797 samples), no download needed."""

from __future__ import annotations

from typing import Annotated, Any

import torch
from pydantic import Field
from torch.utils.data import DataLoader, TensorDataset

import trainer_core as L
from catalog.components._limits import BatchSize, Seed
from catalog.components._split import loader, split_indices, subset

Fraction = Annotated[float, Field(ge=0, lt=1)]


class DigitsDataModule(L.LightningDataModule):
    """Digits as 64 features scaled to [0, 1] with integer labels 0-9; split with a seed.

    Batches are `(x, y)`: x float32 of shape (batch, 64), y int64 of shape (batch,).
    """

    def __init__(
        self,
        batch_size: BatchSize = 32,
        val_fraction: Fraction = 0.1,
        test_fraction: Fraction = 0.1,
        seed: Seed = 0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.batch_size = batch_size
        self.train_set: TensorDataset | None = None
        self.val_set: TensorDataset | None = None
        self.test_set: TensorDataset | None = None

    @staticmethod
    def sample_width(params: dict[str, Any]) -> int:  # catalog.compat: checked at submit
        return 64

    @staticmethod
    def label_count(params: dict[str, Any]) -> int:
        return 10

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        from sklearn.datasets import load_digits

        data = load_digits()
        x = torch.tensor(data.data, dtype=torch.float32) / 16.0  # pixel values are 0..16
        y = torch.tensor(data.target, dtype=torch.int64)
        hp = self.hparams
        train, val, test = split_indices(
            len(x), hp["val_fraction"], hp["test_fraction"], hp["seed"]
        )
        self.train_set, self.val_set = subset(x, y, train), subset(x, y, val)
        self.test_set = subset(x, y, test)

    def train_dataloader(self) -> DataLoader:
        return loader(self.train_set, self.batch_size, True, "train")

    def val_dataloader(self) -> DataLoader:
        return loader(self.val_set, self.batch_size, False, "val")

    def test_dataloader(self) -> DataLoader:
        return loader(self.test_set, self.batch_size, False, "test")
