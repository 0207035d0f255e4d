"""GradientAccumulationScheduler: change ``accumulate_grad_batches`` at given epochs."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

from trainer_core.callbacks.base import Callback
from trainer_core.hooks import is_overridden
from trainer_core.module import LightningModule
from trainer_core.utilities.exceptions import MisconfigurationException

if TYPE_CHECKING:
    from trainer_core.trainer import Trainer


class GradientAccumulationScheduler(Callback):
    """``scheduling={epoch: factor}`` (zero-based epochs): from ``epoch`` on, step every
    ``factor`` batches. Epochs before the first key accumulate 1."""

    def __init__(self, scheduling: dict[int, int]) -> None:
        super().__init__()
        if not scheduling:
            raise TypeError("Empty dict cannot be interpreted correct")
        if any(not isinstance(key, int) or key < 0 for key in scheduling):
            raise MisconfigurationException(
                f"Epoch should be an int greater than or equal to 0. Got {list(scheduling.keys())}."
            )
        if any(not isinstance(value, int) or value < 1 for value in scheduling.values()):
            raise MisconfigurationException(
                "Accumulation factor should be an int greater than 0. Got "
                f"{list(scheduling.values())}."
            )
        if min(scheduling) != 0:  # the epochs before the first key accumulate nothing
            scheduling.update({0: 1})
        self.scheduling = scheduling
        self.epochs = sorted(scheduling.keys())

    def going_to_accumulate_grad_batches(self) -> bool:
        return any(v > 1 for v in self.scheduling.values())

    def get_accumulate_grad_batches(self, epoch: int) -> int:
        for start in reversed(self.epochs):
            if epoch >= start:
                return self.scheduling[start]
        return 1

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Refuse settings that cannot be combined with a changing accumulation factor."""
        if not pl_module.automatic_optimization:
            raise RuntimeError(
                "Automatic gradient accumulation and the `GradientAccumulationScheduler` is not "
                "supported for manual optimization. Please remove the callback or switch to "
                "automatic optimization."
            )
        overrides_optimization = any(
            is_overridden(name, pl_module, LightningModule)
            for name in ("optimizer_step", "optimizer_zero_grad")
        )
        if overrides_optimization and self.going_to_accumulate_grad_batches():
            warnings.warn(
                "When using `Trainer(accumulate_grad_batches != 1)` and overriding "
                "`LightningModule.optimizer_{step,zero_grad}`, the hooks will not be called on "
                "every batch (rather, they are called on every optimization step).",
                stacklevel=2,
            )
        if trainer.accumulate_grad_batches != 1:
            raise ValueError(
                "You have set `accumulate_grad_batches` and are using the "
                "`GradientAccumulationScheduler` callback. Either remove `accumulate_grad_batches` "
                "from the Trainer or remove the callback."
            )

    def on_train_epoch_start(self, trainer: Trainer, *args: Any) -> None:
        trainer.accumulate_grad_batches = self.get_accumulate_grad_batches(trainer.current_epoch)
