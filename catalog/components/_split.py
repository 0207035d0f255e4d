"""Tensor datasets split reproducibly, shared by the built-in datamodules."""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset


def split_indices(
    n: int, val_fraction: float, test_fraction: float, seed: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Shuffle `range(n)` with `seed` and cut it into train/val/test; each part keeps >= 1 row."""
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_val = max(1, round(n * val_fraction)) if val_fraction > 0 else 0
    n_test = max(1, round(n * test_fraction)) if test_fraction > 0 else 0
    if n - n_val - n_test < 1:
        raise ValueError(f"val/test fractions leave no training samples out of {n}")
    return order[n_val + n_test :], order[:n_val], order[n_val : n_val + n_test]


def subset(x: torch.Tensor, y: torch.Tensor, idx: torch.Tensor) -> TensorDataset:
    return TensorDataset(x[idx], y[idx])


def loader(dataset: Dataset | None, batch_size: int, shuffle: bool, name: str) -> DataLoader:
    if dataset is None:
        raise RuntimeError(f"the {name} split is empty or setup() was not called")
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle)
