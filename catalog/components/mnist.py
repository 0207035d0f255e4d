"""MNIST from the standard IDX files in a local folder (no download: workers may be offline).

The folder is `<DATA_ROOT>/<dataset>` on the worker. A spec names only the `dataset`, a plain
folder name, so no path a client sends is ever joined to the filesystem beyond the data root.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import torch
from pydantic import Field
from torch.utils.data import DataLoader, TensorDataset

import trainer_core as L
from catalog.components._limits import MAX_SAMPLES, BatchSize, Seed
from catalog.components._split import loader, split_indices, subset

FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
_DTYPE: dict[int, Any] = {
    0x08: np.uint8,
    0x09: np.int8,
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}


def read_idx(path: Path) -> np.ndarray:
    """Read one IDX file (optionally gzipped): magic 0x0000 | dtype | ndim, then big-endian dims."""
    raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPE:
        raise ValueError(f"{path} is not an IDX file")
    ndim = raw[3]
    dims = np.frombuffer(raw, dtype=">u4", count=ndim, offset=4).astype(int)
    data = np.frombuffer(raw, dtype=_DTYPE[raw[2]], offset=4 + 4 * ndim)
    return data.reshape(tuple(dims))


def find_idx(folder: Path, stem: str) -> Path:
    for candidate in (folder / stem, folder / f"{stem}.gz", folder / stem.replace("-idx", ".idx")):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"MNIST file {stem} (or {stem}.gz) not found in {folder}; put the four standard IDX "
        f"files there ({', '.join(FILES.values())}) or name another folder under DATA_ROOT with the `dataset` parameter"
    )


DATASET_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"


def data_root() -> Path:
    """Where workers keep data sets: the DATA_ROOT environment variable, else ./data."""
    return Path(os.environ.get("DATA_ROOT", "data"))


def dataset_folder(dataset: str) -> Path:
    root = data_root().resolve()
    folder = (root / dataset).resolve()
    if ".." in dataset or folder.parent != root:
        raise ValueError(f"dataset must be a folder name inside DATA_ROOT, got {dataset!r}")
    return folder


class MNISTDataModule(L.LightningDataModule):
    """MNIST's 28x28 digits flattened to 784 features in [0, 1], from IDX files in
    `<DATA_ROOT>/<dataset>` on the worker.

    The official test set is the test split; `val_size` samples of the training set, chosen
    with `seed`, are the validation split. Batches are `(x, y)`.
    """

    def __init__(
        self,
        dataset: Annotated[
            str,
            Field(
                pattern=DATASET_NAME,
                description="Folder name under the worker's DATA_ROOT holding the IDX files.",
            ),
        ] = "mnist",
        batch_size: BatchSize = 64,
        val_size: Annotated[
            int, Field(ge=0, le=MAX_SAMPLES, description="Training samples kept for validation.")
        ] = 5000,
        seed: Seed = 0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.batch_size = batch_size
        self.sets: dict[str, TensorDataset] = {}

    @staticmethod
    def sample_width(params: dict[str, Any]) -> int:  # catalog.compat: checked at submit
        return 28 * 28

    @staticmethod
    def label_count(params: dict[str, Any]) -> int:
        return 10

    def prepare_data(self) -> None:
        folder = dataset_folder(self.hparams["dataset"])
        for stem in FILES.values():
            find_idx(folder, stem)  # fail early, before any training, with the list of files

    def _load(self, images: str, labels: str) -> tuple[torch.Tensor, torch.Tensor]:
        folder = dataset_folder(self.hparams["dataset"])
        x = read_idx(find_idx(folder, FILES[images])).reshape(-1, 28 * 28)
        y = read_idx(find_idx(folder, FILES[labels]))
        return torch.tensor(x, dtype=torch.float32) / 255.0, torch.tensor(y, dtype=torch.int64)

    def setup(self, stage: str | None = None) -> None:
        if self.sets:
            return
        x, y = self._load("train_images", "train_labels")
        val_fraction = min(self.hparams["val_size"] / len(x), 0.5)
        train, val, _ = split_indices(len(x), val_fraction, 0.0, self.hparams["seed"])
        self.sets["train"], self.sets["val"] = subset(x, y, train), subset(x, y, val)
        self.sets["test"] = TensorDataset(*self._load("test_images", "test_labels"))

    def train_dataloader(self) -> DataLoader:
        return loader(self.sets.get("train"), self.batch_size, True, "train")

    def val_dataloader(self) -> DataLoader:
        return loader(self.sets.get("val"), self.batch_size, False, "val")

    def test_dataloader(self) -> DataLoader:
        return loader(self.sets.get("test"), self.batch_size, False, "test")
