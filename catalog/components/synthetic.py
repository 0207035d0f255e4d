"""Random tensors of a given shape, for tests and benchmarks."""

from __future__ import annotations

from typing import Annotated

import torch
from pydantic import Field
from torch.utils.data import DataLoader, TensorDataset

import trainer_core as L
from catalog.components._split import loader

Size = Annotated[int, Field(ge=0, le=10_000_000)]


class SyntheticDataModule(L.LightningDataModule):
    """Standard-normal features of shape `shape` and uniform integer labels below `num_classes`.

    Batches are `(x, y)`; the same `seed` gives the same data on every machine.
    """

    def __init__(
        self,
        shape: Annotated[list[int], Field(min_length=1, description="Shape of one sample.")] = [64],  # noqa: B006
        num_classes: Annotated[int, Field(ge=1)] = 10,
        train_size: Size = 256,
        val_size: Size = 64,
        test_size: Size = 64,
        batch_size: Annotated[int, Field(ge=1)] = 32,
        seed: int = 0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.batch_size = batch_size
        self.sets: dict[str, TensorDataset] = {}

    def _make(self, size: int, offset: int) -> TensorDataset:
        gen = torch.Generator().manual_seed(self.hparams["seed"] + offset)
        x = torch.randn(size, *self.hparams["shape"], generator=gen)
        y = torch.randint(0, self.hparams["num_classes"], (size,), generator=gen)
        return TensorDataset(x, y)

    def setup(self, stage: str | None = None) -> None:
        if self.sets:
            return
        hp = self.hparams
        for offset, (split, size) in enumerate(
            [("train", hp["train_size"]), ("val", hp["val_size"]), ("test", hp["test_size"])]
        ):
            self.sets[split] = self._make(size, offset)  # size 0: an empty loader

    def train_dataloader(self) -> DataLoader:
        return loader(self.sets.get("train"), self.batch_size, True, "train")

    def val_dataloader(self) -> DataLoader:
        return loader(self.sets.get("val"), self.batch_size, False, "val")

    def test_dataloader(self) -> DataLoader:
        return loader(self.sets.get("test"), self.batch_size, False, "test")
