"""The Callback base class: one no-op method per :class:`~trainer_core.events.Event`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import torch

if TYPE_CHECKING:
    from trainer_core.module import LightningModule
    from trainer_core.trainer import Trainer


class Callback:
    """Override any hook; each receives ``(trainer, pl_module, *args)``."""

    monitors_metrics: ClassVar[bool] = False
    """True: at the ``events.AFTER_MODULE`` events this callback runs after the module's hook, so
    it sees what the module logged there (EarlyStopping and ``Checkpoint`` subclasses set it)."""

    @property
    def state_key(self) -> str:
        """Key of this callback's state in a checkpoint's ``callbacks`` dict."""
        return self.__class__.__qualname__

    @property
    def _legacy_state_key(self) -> type[Callback]:
        return type(self)

    def _generate_state_key(self, **kwargs: Any) -> str:
        """A state key that tells apart two instances with different settings."""
        return f"{self.__class__.__qualname__}{repr(kwargs)}"

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None: ...

    def teardown(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None: ...

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None: ...

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None: ...

    def on_sanity_check_start(self, trainer: Trainer, pl_module: LightningModule) -> None: ...

    def on_sanity_check_end(self, trainer: Trainer, pl_module: LightningModule) -> None: ...

    def on_train_batch_start(
        self, trainer: Trainer, pl_module: LightningModule, batch: Any, batch_idx: int
    ) -> None: ...

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None: ...

    def on_train_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None: ...

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None: ...

    def on_validation_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None: ...

    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None: ...

    def on_test_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None: ...

    def on_test_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None: ...

    def on_predict_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None: ...

    def on_predict_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None: ...

    def on_validation_batch_start(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None: ...

    def on_validation_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None: ...

    def on_test_batch_start(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None: ...

    def on_test_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None: ...

    def on_predict_batch_start(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None: ...

    def on_predict_batch_end(
        self,
        trainer: Trainer,
        pl_module: LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int = 0,
    ) -> None: ...

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None: ...

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None: ...

    def on_validation_start(self, trainer: Trainer, pl_module: LightningModule) -> None: ...

    def on_validation_end(self, trainer: Trainer, pl_module: LightningModule) -> None: ...

    def on_test_start(self, trainer: Trainer, pl_module: LightningModule) -> None: ...

    def on_test_end(self, trainer: Trainer, pl_module: LightningModule) -> None: ...

    def on_predict_start(self, trainer: Trainer, pl_module: LightningModule) -> None: ...

    def on_predict_end(self, trainer: Trainer, pl_module: LightningModule) -> None: ...

    def on_exception(
        self, trainer: Trainer, pl_module: LightningModule, exception: BaseException
    ) -> None: ...

    def state_dict(self) -> dict[str, Any]:
        """State to save in checkpoints; an empty dict means nothing is saved."""
        return {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None: ...

    def on_save_checkpoint(
        self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict[str, Any]
    ) -> None: ...

    def on_load_checkpoint(
        self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict[str, Any]
    ) -> None: ...

    def on_before_backward(
        self, trainer: Trainer, pl_module: LightningModule, loss: torch.Tensor
    ) -> None: ...

    def on_after_backward(self, trainer: Trainer, pl_module: LightningModule) -> None: ...

    def on_before_optimizer_step(
        self, trainer: Trainer, pl_module: LightningModule, optimizer: torch.optim.Optimizer
    ) -> None: ...

    def on_before_zero_grad(
        self, trainer: Trainer, pl_module: LightningModule, optimizer: torch.optim.Optimizer
    ) -> None: ...
