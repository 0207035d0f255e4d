"""WeightAveraging and EMAWeightAveraging: an ``AveragedModel`` updated after optimizer steps.

Validation runs on the averaged weights, the module ends training with them, and checkpoints
hold them under ``state_dict`` (the live weights under ``current_model_state``), so a saved
model is the averaged one, as with Lightning's callbacks.
"""

from __future__ import annotations

import itertools
import logging
import warnings
from copy import deepcopy
from typing import TYPE_CHECKING, Any

import torch
from torch.optim.swa_utils import AveragedModel, get_ema_avg_fn

from trainer_core.callbacks.base import Callback
from trainer_core.hooks import is_overridden
from trainer_core.module import LightningModule

if TYPE_CHECKING:
    from trainer_core.trainer import Trainer

log = logging.getLogger(__name__)


class WeightAveraging(Callback):
    """Keeps ``AveragedModel(pl_module, device, use_buffers, **kwargs)``; by default an equal
    average (SWA) updated after every optimizer step. Override ``should_update`` to choose when.
    """

    def __init__(
        self,
        device: torch.device | str | int | None = None,
        use_buffers: bool = True,
        **kwargs: Any,
    ) -> None:
        self._device: torch.device | int | None = (
            torch.device(device) if isinstance(device, str) else device
        )
        self._use_buffers = use_buffers
        self._kwargs = kwargs
        self._average_model: AveragedModel | None = None
        # optimizer steps done at the last update; 0 makes the first check follow the first step
        self._latest_update_step = 0
        # the epoch after which the average was last updated; -1 lets epoch 0 update
        self._latest_update_epoch = -1

    def should_update(self, step_idx: int | None = None, epoch_idx: int | None = None) -> bool:
        """Called with the zero-based index of the last optimizer step, or of the epoch that
        just ended; True updates the average. The default: after every step."""
        return step_idx is not None

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if stage != "fit":
            return
        device = self._device or pl_module.device
        if is_overridden("configure_model", pl_module, LightningModule):
            warnings.warn(
                "You're using the WeightAveraging callback with a model that overrides the "
                "configure_model callback. WeightAveraging doesn't support sharding model "
                "layers, so you may run out of memory.",
                stacklevel=2,
            )
            pl_module.configure_model()
        self._average_model = AveragedModel(
            model=pl_module, device=device, use_buffers=self._use_buffers, **self._kwargs
        )

    def on_train_batch_end(
        self, trainer: Trainer, pl_module: LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        step_idx = trainer.global_step - 1
        if trainer.global_step > self._latest_update_step and self.should_update(step_idx=step_idx):
            assert self._average_model is not None
            self._average_model.update_parameters(pl_module)
            self._latest_update_step = trainer.global_step

    def on_train_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        epoch = trainer.current_epoch
        if epoch > self._latest_update_epoch and self.should_update(epoch_idx=epoch):
            assert self._average_model is not None
            self._average_model.update_parameters(pl_module)
            self._latest_update_epoch = epoch

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        assert self._average_model is not None
        self._copy_average_to_current(pl_module)

    def on_validation_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self._average_model is not None:
            self._swap_models(pl_module)

    def on_validation_epoch_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self._average_model is not None:
            self._swap_models(pl_module)

    def state_dict(self) -> dict[str, Any]:
        return {"latest_update_step": self._latest_update_step}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._latest_update_step = state_dict["latest_update_step"]

    def on_save_checkpoint(
        self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        """``state_dict`` becomes the averaged weights; the live ones go to
        ``current_model_state``, the averaging counters to ``averaging_state``."""
        if self._average_model is None:
            log.info(
                "You're using the WeightAveraging callback, but saving a checkpoint outside the "
                "'fit' stage. The state of the WeightAveraging callback won't be saved in the "
                "checkpoint. If training has finished, the average model parameters will be saved "
                "to the state_dict in the checkpoint."
            )
            return
        average_state = self._average_model.state_dict()
        checkpoint["current_model_state"] = checkpoint["state_dict"]
        prefix = "module."  # AveragedModel keeps the averaged model under `module`
        checkpoint["state_dict"] = {
            name[len(prefix) :]: value
            for name, value in average_state.items()
            if name.startswith(prefix)
        }
        checkpoint["averaging_state"] = {
            name: value for name, value in average_state.items() if not name.startswith(prefix)
        }

    def on_load_checkpoint(
        self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        if self._average_model is None:
            warnings.warn(
                "You're using the WeightAveraging callback, but loading a checkpoint outside the "
                "'fit' stage. The WeightAveraging state cannot be restored. If you're using the "
                "checkpoint for prediction or testing, you can ignore this warning. To disable "
                "the warning, remove the WeightAveraging callback.",
                stacklevel=2,
            )
        elif "current_model_state" in checkpoint and "averaging_state" in checkpoint:
            log.info(
                "Found current_model_state in the checkpoint. This will be used to initialize "
                "the model."
            )
            average_state = {"module." + k: v for k, v in checkpoint["state_dict"].items()}
            average_state |= checkpoint["averaging_state"]
            self._average_model.load_state_dict(average_state)
            # the trainer loaded the averaged weights into the module: put the live ones back
            pl_module.load_state_dict(checkpoint["current_model_state"])
        else:
            warnings.warn(
                "The checkpoint was not created with WeightAveraging. Both the current and the "
                "average model will be initialized with state_dict.",
                stacklevel=2,
            )
            self._average_model.module.load_state_dict(
                deepcopy(checkpoint["state_dict"]), strict=False
            )

    def _pairs(self, pl_module: LightningModule) -> zip:
        assert self._average_model is not None
        average = self._average_model.module
        return zip(
            itertools.chain(average.parameters(), average.buffers()),
            itertools.chain(pl_module.parameters(), pl_module.buffers()),
            strict=False,
        )

    def _swap_models(self, pl_module: LightningModule) -> None:
        for average_param, current_param in self._pairs(pl_module):
            saved = average_param.data.clone()
            average_param.data.copy_(current_param.data)
            current_param.data.copy_(saved)

    def _copy_average_to_current(self, pl_module: LightningModule) -> None:
        for average_param, current_param in self._pairs(pl_module):
            current_param.data.copy_(average_param.data)


class EMAWeightAveraging(WeightAveraging):
    """Exponential moving average of the weights: ``decay`` per update, every
    ``update_every_n_steps`` steps from ``update_starting_at_step`` (or at epoch ends from
    ``update_starting_at_epoch``)."""

    def __init__(
        self,
        device: torch.device | str | int | None = None,
        use_buffers: bool = True,
        decay: float = 0.999,
        update_every_n_steps: int = 1,
        update_starting_at_step: int | None = None,
        update_starting_at_epoch: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            device=device, use_buffers=use_buffers, **kwargs, avg_fn=get_ema_avg_fn(decay=decay)
        )
        self.update_every_n_steps = update_every_n_steps
        self.update_starting_at_step = update_starting_at_step
        self.update_starting_at_epoch = update_starting_at_epoch

    def should_update(self, step_idx: int | None = None, epoch_idx: int | None = None) -> bool:
        if step_idx is not None:
            started = (
                self.update_starting_at_step is None or step_idx >= self.update_starting_at_step
            )
            on_beat = self.update_every_n_steps > 0 and step_idx % self.update_every_n_steps == 0
            if started and on_beat:
                return True
        return (
            epoch_idx is not None
            and self.update_starting_at_epoch is not None
            and epoch_idx >= self.update_starting_at_epoch
        )
