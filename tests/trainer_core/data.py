"""MNIST-shaped data without a download: scikit-learn's bundled 8x8 handwritten digits.

The seed tutorial's model expects 1x28x28 images in [0, 1]; the 1,797 real digits are scaled to
[0, 1] and bilinearly upsampled to 28x28, so the tutorial's layer shapes stay as written.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Subset, TensorDataset

N_TRAIN = 1400  # of 1,797; the rest is the validation/test split


@functools.cache
def digits_tensors() -> tuple[torch.Tensor, torch.Tensor]:
    """(images [N, 1, 28, 28] float32 in [0, 1], labels [N] int64), in sklearn's fixed order."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    images = F.interpolate(images, size=(28, 28), mode="bilinear", align_corners=False)
    return images.clamp_(0.0, 1.0), torch.tensor(digits.target, dtype=torch.int64)


def digits_dataset() -> TensorDataset:
    return TensorDataset(*digits_tensors())


def digits_split(split: str) -> Subset:
    """'train' is the first N_TRAIN digits; 'val' and 'test' share the held-out remainder."""
    full = digits_dataset()
    if split == "train":
        return Subset(full, range(N_TRAIN))
    if split in ("val", "test", "predict"):
        return Subset(full, range(N_TRAIN, len(full)))
    raise ValueError(f"unknown split {split!r}; use train, val, test or predict")


def digits_loader(split: str, batch_size: int = 32, shuffle: bool = False) -> DataLoader:
    return DataLoader(digits_split(split), batch_size=batch_size, shuffle=shuffle)
