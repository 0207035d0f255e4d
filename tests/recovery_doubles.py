"""Components for the recovery tests: a module that runs out of memory.

A worker sees it through `COMPONENT_MODULES='["tests.service_doubles", "tests.recovery_doubles"]'`.
"""

from __future__ import annotations

from typing import Any

import torch

from tests.service_doubles import TinyRegressor
from catalog.registry import register

COMPONENT_MODULE = "tests.recovery_doubles"


class OomRegressor(TinyRegressor):
    """TinyRegressor whose training step runs out of (GPU) memory at `fail_at_step`."""

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        if self.global_step == self.hparams.fail_at_step:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return super().training_step(batch, batch_idx)


register(OomRegressor, name="oom_regressor", kind="module")
