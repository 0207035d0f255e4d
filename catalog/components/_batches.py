"""Helpers shared by the built-in modules."""

from __future__ import annotations

from typing import Any

import torch


def features(batch: Any) -> torch.Tensor:
    """The input tensor of a batch: `(x, y)` in fit/test, a bare `x` (or `[x]`) in predict."""
    if isinstance(batch, list | tuple):
        batch = batch[0]
    x = torch.as_tensor(batch, dtype=torch.float32)
    return x.reshape(x.size(0), -1)
