"""Helpers shared by the built-in modules."""

from __future__ import annotations

from typing import Any

import torch


def features(batch: Any) -> torch.Tensor:
    """The input tensor of a batch: `(x, y)` in fit/test, a bare `x` (or `[x]`) in predict.

    A floating-point batch keeps its dtype: the trainer's `64-true`, `16-true` and `bf16-true`
    cast the model and its inputs alike, and a float32 input would not match the weights."""
    if isinstance(batch, list | tuple):
        batch = batch[0]
    x = torch.as_tensor(batch)
    if not x.is_floating_point():
        x = x.float()
    return x.reshape(x.size(0), -1)
