"""StochasticWeightAveraging (Izmailov et al., 2018), as Lightning's callback does it.

From epoch ``swa_epoch_start`` the callback swaps the LR scheduler for ``SWALR`` and keeps an
equal-weight average of the weights after every epoch; at the end of training the module gets
the averaged weights. A model with batch norm trains one extra epoch that only runs forward
passes, to recompute the running statistics under the averaged weights.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from copy import deepcopy
from typing import TYPE_CHECKING, Any, Literal

import torch
from torch import Tensor, nn
from torch.optim.swa_utils import SWALR

from trainer_core.callbacks.base import Callback
from trainer_core.optim import LRSchedulerConfig
from trainer_core.utilities.exceptions import MisconfigurationException

if TYPE_CHECKING:
    from trainer_core.module import LightningModule
    from trainer_core.trainer import Trainer

_AVG_FN = Callable[[Tensor, Tensor, Tensor], Tensor]


class StochasticWeightAveraging(Callback):
    """Average the weights of the last epochs (``swa_epoch_start``: an epoch number from 1, or a
    fraction of ``max_epochs``) under the SWA learning rate ``swa_lrs``."""

    def __init__(
        self,
        swa_lrs: float | list[float],
        swa_epoch_start: int | float = 0.8,
        annealing_epochs: int = 10,
        annealing_strategy: Literal["cos", "linear"] = "cos",
        avg_fn: _AVG_FN | None = None,
        device: torch.device | str | None = torch.device("cpu"),  # noqa: B008 - Lightning's default
    ) -> None:
        _check_arguments(swa_lrs, swa_epoch_start, avg_fn, device)
        self.n_averaged: Tensor | None = None
        self._swa_epoch_start = swa_epoch_start
        self._swa_lrs = swa_lrs
        self._annealing_epochs = annealing_epochs
        self._annealing_strategy = annealing_strategy
        self._avg_fn = avg_fn or self.avg_fn
        self._device = device
        self._model_contains_batch_norm: bool | None = None
        self._average_model: LightningModule | None = None
        self._initialized = False
        self._swa_scheduler: Any = None
        self._scheduler_state: dict | None = None
        self._init_n_averaged = 0
        self._latest_update_epoch = -1
        self._accumulate_grad_batches = 1
        self.momenta: dict[nn.modules.batchnorm._BatchNorm, float | None] = {}
        self._max_epochs: int

    @property
    def swa_start(self) -> int:
        assert isinstance(self._swa_epoch_start, int)
        return max(self._swa_epoch_start - 1, 0)  # 0-based

    @property
    def swa_end(self) -> int:
        if self._max_epochs == -1:
            return float("inf")  # type: ignore[return-value]
        return self._max_epochs - 1  # 0-based

    @staticmethod
    def pl_module_contains_batch_norm(pl_module: LightningModule) -> bool:
        return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in pl_module.modules())

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        self._average_model = deepcopy(pl_module)  # before the module moves to its device

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if len(trainer.optimizers) != 1:
            raise MisconfigurationException("SWA currently works with 1 `optimizer`.")
        if len(trainer.lr_scheduler_configs) > 1:
            raise MisconfigurationException(
                "SWA currently not supported for more than 1 `lr_scheduler`."
            )
        if isinstance(self._swa_epoch_start, float):
            if trainer.max_epochs == -1:
                raise MisconfigurationException(
                    "SWA with `swa_epoch_start` as a float is not supported when `max_epochs=-1`. "
                    "Please provide `swa_epoch_start` as an integer."
                )
            self._swa_epoch_start = int(trainer.max_epochs * self._swa_epoch_start)
        self._model_contains_batch_norm = self.pl_module_contains_batch_norm(pl_module)
        self._max_epochs = trainer.max_epochs
        if self._model_contains_batch_norm and trainer.max_epochs != -1:
            trainer.fit_loop.max_epochs += 1  # the batch-norm update epoch
        if self._scheduler_state is not None:
            # restored from a checkpoint: SWALR is rebuilt with its state at the start epoch,
            # so the trainer must not load that state into the module's own scheduler
            trainer.lr_scheduler_configs.clear()

    def on_train_epoch_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        epoch = trainer.current_epoch
        if not self._initialized and self.swa_start <= epoch <= self.swa_end:
            self._start_averaging(trainer, pl_module)
        if self.swa_start <= epoch <= self.swa_end and epoch > self._latest_update_epoch:
            assert self.n_averaged is not None and self._average_model is not None
            self.update_parameters(self._average_model, pl_module, self.n_averaged, self._avg_fn)
            self._latest_update_epoch = epoch
        if self._max_epochs != -1 and epoch == self.swa_end + 1:
            self._start_batch_norm_epoch(trainer, pl_module)

    def _start_averaging(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._initialized = True
        assert self._average_model is not None
        self._average_model = self._average_model.to(self._device or pl_module.device)
        optimizer = trainer.optimizers[0]
        if isinstance(self._swa_lrs, float):
            self._swa_lrs = [self._swa_lrs] * len(optimizer.param_groups)
        for lr, group in zip(self._swa_lrs, optimizer.param_groups, strict=False):
            group["initial_lr"] = lr
        self._swa_scheduler = SWALR(
            optimizer,
            swa_lr=self._swa_lrs,  # type: ignore[arg-type]
            anneal_epochs=self._annealing_epochs,
            anneal_strategy=self._annealing_strategy,
            last_epoch=trainer.max_epochs if self._annealing_strategy == "cos" else -1,
        )
        if self._scheduler_state is not None:
            self._swa_scheduler.load_state_dict(self._scheduler_state)
        elif trainer.current_epoch != self.swa_start:
            warnings.warn(
                "SWA is initializing after swa_start without any checkpoint data. This may be "
                "caused by loading a checkpoint from an older version of PyTorch Lightning.",
                stacklevel=2,
            )
        swa_config = LRSchedulerConfig(self._swa_scheduler)  # every epoch
        if trainer.lr_scheduler_configs:
            config = trainer.lr_scheduler_configs[0]
            if config.interval != "epoch" or config.frequency != 1:
                warnings.warn(
                    f"SWA is currently only supported every epoch. Found {config}", stacklevel=2
                )
            trainer.lr_scheduler_configs[0] = swa_config
        else:
            trainer.lr_scheduler_configs.append(swa_config)
        if self.n_averaged is None:
            self.n_averaged = torch.tensor(
                self._init_n_averaged, dtype=torch.long, device=pl_module.device
            )

    def _start_batch_norm_epoch(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Averaged weights in, batch-norm statistics reset, and an epoch of forward passes: one
        accumulation window longer than the epoch, and no backward (Lightning's way)."""
        assert self._average_model is not None
        self.transfer_weights(self._average_model, pl_module)
        self.reset_batch_norm_and_save_state(pl_module)
        batches = trainer.num_training_batches
        if not isinstance(batches, int):
            raise MisconfigurationException(
                "SWA's batch-norm update epoch needs a train dataloader with a length; "
                "iterable-style datasets are not supported."
            )
        trainer.fit_loop._skip_backward = True
        self._accumulate_grad_batches = trainer.accumulate_grad_batches
        trainer.accumulate_grad_batches = batches + 1

    def on_train_epoch_end(self, trainer: Trainer, *args: Any) -> None:
        trainer.fit_loop._skip_backward = False

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        # the epoch counter has moved past the last epoch when this runs
        last = trainer.current_epoch - 1
        if self._model_contains_batch_norm and self._max_epochs != -1 and last == self.swa_end + 1:
            trainer.accumulate_grad_batches = self._accumulate_grad_batches
            trainer.fit_loop.max_epochs -= 1
            self.reset_momenta()
        elif last == self.swa_end or self._max_epochs == -1:
            if self._average_model is not None:
                self.transfer_weights(self._average_model, pl_module)

    @staticmethod
    def transfer_weights(src_pl_module: nn.Module, dst_pl_module: nn.Module) -> None:
        for src, dst in zip(src_pl_module.parameters(), dst_pl_module.parameters(), strict=False):
            dst.detach().copy_(src.to(dst.device))

    def reset_batch_norm_and_save_state(self, pl_module: LightningModule) -> None:
        """torch.optim.swa_utils.update_bn's reset: cumulative averages from zero."""
        self.momenta = {}
        for module in pl_module.modules():
            if not isinstance(module, nn.modules.batchnorm._BatchNorm):
                continue
            assert module.running_mean is not None and module.running_var is not None
            module.running_mean = torch.zeros_like(module.running_mean, device=pl_module.device)
            module.running_var = torch.ones_like(module.running_var, device=pl_module.device)
            self.momenta[module] = module.momentum
            module.momentum = None
            assert module.num_batches_tracked is not None
            module.num_batches_tracked *= 0

    def reset_momenta(self) -> None:
        for module, momentum in self.momenta.items():
            module.momentum = momentum

    @staticmethod
    def update_parameters(
        average_model: nn.Module, model: nn.Module, n_averaged: Tensor, avg_fn: _AVG_FN
    ) -> None:
        for p_swa, p_model in zip(average_model.parameters(), model.parameters(), strict=False):
            device = p_swa.device
            swa_value = p_swa.detach()
            model_value = p_model.detach().to(device)
            src = (
                model_value
                if n_averaged == 0
                else avg_fn(swa_value, model_value, n_averaged.to(device))
            )
            swa_value.copy_(src)
        n_averaged += 1

    @staticmethod
    def avg_fn(averaged: Tensor, current: Tensor, num_averaged: Tensor) -> Tensor:
        return averaged + (current - averaged) / (num_averaged + 1)

    def state_dict(self) -> dict[str, Any]:
        return {
            "n_averaged": 0 if self.n_averaged is None else self.n_averaged.item(),
            "latest_update_epoch": self._latest_update_epoch,
            "scheduler_state": (
                None if self._swa_scheduler is None else self._swa_scheduler.state_dict()
            ),
            "average_model_state": (
                None if self._average_model is None else self._average_model.state_dict()
            ),
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._init_n_averaged = state_dict["n_averaged"]
        self._latest_update_epoch = state_dict["latest_update_epoch"]
        self._scheduler_state = state_dict["scheduler_state"]
        if self._average_model is not None:
            self._average_model.load_state_dict(state_dict["average_model_state"])


def _check_arguments(swa_lrs: Any, swa_epoch_start: Any, avg_fn: Any, device: Any) -> None:
    message = "swa_epoch_start should be a >0 integer or a float between 0 and 1."
    if isinstance(swa_epoch_start, int) and swa_epoch_start < 1:
        raise MisconfigurationException(message)
    if isinstance(swa_epoch_start, float) and not 0 <= swa_epoch_start <= 1:
        raise MisconfigurationException(message)
    wrong_type = not isinstance(swa_lrs, (float, list))
    wrong_float = isinstance(swa_lrs, float) and swa_lrs <= 0
    wrong_list = isinstance(swa_lrs, list) and not all(
        isinstance(lr, float) and lr > 0 for lr in swa_lrs
    )
    if wrong_type or wrong_float or wrong_list:
        raise MisconfigurationException(
            "The `swa_lrs` should a positive float, or a list of positive floats"
        )
    if avg_fn is not None and not callable(avg_fn):
        raise MisconfigurationException("The `avg_fn` should be callable.")
    if device is not None and not isinstance(device, (torch.device, str)):
        raise MisconfigurationException(
            f"device is expected to be a torch.device or a str. Found {device}"
        )
