"""Random tensors of a given shape, for tests and benchmarks."""

from __future__ import annotations

import math
from typing import Annotated, Any

import torch
from pydantic import Field
from torch.utils.data import DataLoader, TensorDataset

import trainer_core as L
from catalog.components._limits import (
    MAX_CLASSES,
    MAX_ELEMENTS,
    MAX_FEATURES,
    MAX_SAMPLES,
    BatchSize,
    Seed,
    checked_params,
    too_large,
)
from catalog.components._split import loader

Size = Annotated[int, Field(ge=0, le=MAX_SAMPLES)]
Dim = Annotated[int, Field(ge=1, le=MAX_FEATURES)]


class SyntheticDataModule(L.LightningDataModule):
    """Standard-normal features of shape `shape` and uniform integer labels below `num_classes`.

    Batches are `(x, y)`; the same `seed` gives the same data on every machine.
    """

    def __init__(
        self,
        shape: Annotated[
            list[Dim], Field(min_length=1, max_length=4, description="Shape of one sample.")
        ] = [64],  # noqa: B006
        num_classes: Annotated[int, Field(ge=1, le=MAX_CLASSES)] = 10,
        train_size: Size = 256,
        val_size: Size = 64,
        test_size: Size = 64,
        batch_size: BatchSize = 32,
        seed: Seed = 0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.batch_size = batch_size
        self.sets: dict[str, TensorDataset] = {}

    @staticmethod
    def sample_width(params: dict[str, Any]) -> int:  # catalog.compat: checked at submit
        return math.prod(params["shape"])

    @staticmethod
    def label_count(params: dict[str, Any]) -> int:
        return int(params["num_classes"])

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


def _fits(params: Any) -> None:
    samples = params.train_size + params.val_size + params.test_size
    elements = samples * math.prod(params.shape)
    if elements > MAX_ELEMENTS:
        raise too_large(
            f"the data set would hold {elements:,} numbers, more than {MAX_ELEMENTS:,} (1 GiB); "
            "lower train_size, val_size, test_size or the shape"
        )


PARAMS = checked_params(SyntheticDataModule, "synthetic", _fits)
