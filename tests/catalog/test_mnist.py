"""The `mnist` datamodule reads IDX files from DATA_ROOT/<dataset>; a spec can never name a path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from catalog.components.mnist import MNISTDataModule
from catalog.registry import InvalidParamsError, build_registry


def write_idx(path: Path, array: np.ndarray) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + np.array(array.shape, dtype=">u4").tobytes()
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def make_mnist(folder: Path, n_train: int = 40, n_test: int = 10) -> None:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte", rng.integers(0, 10, (n,)))


def test_reads_the_idx_files_under_the_data_root(tmp_path, monkeypatch) -> None:
    make_mnist(tmp_path / "mnist")
    monkeypatch.setenv("DATA_ROOT", str(tmp_path))
    dm = MNISTDataModule(batch_size=8, val_size=10)
    dm.prepare_data()
    dm.setup("fit")
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (8, 784) and float(x.max()) <= 1.0 and y.dtype.is_floating_point is False
    assert len(dm.sets["val"]) == 10 and len(dm.sets["test"]) == 10


def test_missing_files_name_the_folder_and_the_files(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("DATA_ROOT", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="train-images-idx3-ubyte"):
        MNISTDataModule().prepare_data()


@pytest.mark.parametrize("dataset", ["../etc", "/etc", "a/../../b", "a/b", ""])
def test_a_spec_cannot_name_a_path(dataset: str) -> None:
    mnist = build_registry().get("datamodule", "mnist")
    with pytest.raises(InvalidParamsError, match="dataset"):
        mnist.validate({"dataset": dataset})


def test_a_spec_cannot_pass_a_data_dir() -> None:
    mnist = build_registry().get("datamodule", "mnist")
    with pytest.raises(InvalidParamsError, match="data_dir"):
        mnist.validate({"data_dir": "/etc"})
