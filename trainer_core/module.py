"""LightningModule: an ``nn.Module`` with training hooks, ``self.log`` and optimizer helpers."""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch.optim import Optimizer

from trainer_core.hooks import CheckpointHooks, DataHooks, ModelHooks
from trainer_core.hparams import HyperparametersMixin
from trainer_core.logging.options import CHECKED_OPTIONS, check_options
from trainer_core.saving import load_module_from_checkpoint, restricted_classmethod
from trainer_core.utilities.exceptions import MisconfigurationException

if TYPE_CHECKING:
    from trainer_core.trainer import Trainer

_SETTABLE_OUTSIDE_INIT = ("_current_fx_name", "_trainer")


class LightningModule(HyperparametersMixin, ModelHooks, DataHooks, CheckpointHooks, nn.Module):
    """Subclass this and implement ``training_step`` and ``configure_optimizers``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._trainer: Trainer | None = None
        self._current_fx_name: str | None = None
        self._automatic_optimization = True
        self._strict_loading: bool | None = None
        self._example_input_array: Any = None
        self._device_fallback = torch.device("cpu")

    # ---- trainer-provided state -------------------------------------------------------------
    @property
    def trainer(self) -> Trainer:
        if self._trainer is None:
            raise RuntimeError(f"{self.__class__.__qualname__} is not attached to a `Trainer`.")
        return self._trainer

    @trainer.setter
    def trainer(self, trainer: Trainer | None) -> None:
        object.__setattr__(self, "_trainer", trainer)

    @property
    def device(self) -> torch.device:
        for param in self.parameters():
            return param.device
        for buffer in self.buffers():
            return buffer.device
        return self._device_fallback

    @property
    def dtype(self) -> torch.dtype:
        for tensor in self.parameters():
            return tensor.dtype
        return torch.get_default_dtype()

    @property
    def current_epoch(self) -> int:
        return self._trainer.current_epoch if self._trainer is not None else 0

    @property
    def global_step(self) -> int:
        return self._trainer.global_step if self._trainer is not None else 0

    @property
    def global_rank(self) -> int:
        return 0

    @property
    def local_rank(self) -> int:
        return 0

    @property
    def on_gpu(self) -> bool:
        return self.device.type == "cuda"

    @property
    def logger(self) -> Any:
        return self._trainer.logger if self._trainer is not None else None

    @property
    def loggers(self) -> list[Any]:
        return self._trainer.loggers if self._trainer is not None else []

    @property
    def automatic_optimization(self) -> bool:
        return self._automatic_optimization

    @automatic_optimization.setter
    def automatic_optimization(self, value: bool) -> None:
        self._automatic_optimization = value

    @property
    def strict_loading(self) -> bool:
        return True if self._strict_loading is None else self._strict_loading

    @strict_loading.setter
    def strict_loading(self, value: bool) -> None:
        self._strict_loading = value

    @property
    def example_input_array(self) -> Any:
        return self._example_input_array

    @example_input_array.setter
    def example_input_array(self, value: Any) -> None:
        self._example_input_array = value

    # ---- steps and configuration ------------------------------------------------------------
    def training_step(self, *args: Any, **kwargs: Any) -> Any:
        raise MisconfigurationException(
            "`training_step` must be implemented to be used with the Lightning Trainer"
        )

    def predict_step(self, *args: Any, **kwargs: Any) -> Any:
        batch = kwargs.get("batch", args[0])
        return self(batch)

    def configure_optimizers(self) -> Any:
        warnings.warn(
            "`configure_optimizers` must be implemented to be used with the Lightning Trainer",
            stacklevel=2,
        )
        return None

    def configure_callbacks(self) -> Any:
        return []

    # ---- logging ----------------------------------------------------------------------------
    def log(
        self,
        name: str,
        value: Any,
        prog_bar: bool = False,
        logger: bool | None = None,
        on_step: bool | None = None,
        on_epoch: bool | None = None,
        reduce_fx: Any = "mean",
        enable_graph: bool = False,
        sync_dist: bool = False,
        sync_dist_group: Any = None,
        add_dataloader_idx: bool = True,
        batch_size: int | None = None,
        metric_attribute: str | None = None,
        rank_zero_only: bool = False,
    ) -> None:
        """Record a scalar for callbacks, the progress bar and loggers (see the spec, section 2)."""
        trainer = self._trainer
        if trainer is None:
            warnings.warn(
                "You are trying to `self.log()` but the `self.trainer` reference is not registered "
                "on the model yet. This is most likely because the model hasn't been passed to the "
                "`Trainer`",
                stacklevel=2,
            )
            return
        fx = self._current_fx_name
        key = (fx, name, prog_bar, logger, on_step, on_epoch, reduce_fx, add_dataloader_idx)
        options = CHECKED_OPTIONS.get(key)
        if options is None:
            options = check_options(
                fx, name, prog_bar, logger, on_step, on_epoch, reduce_fx, add_dataloader_idx
            )
            CHECKED_OPTIONS[key] = options
        if isinstance(value, torch.Tensor):
            if value.numel() != 1:
                raise ValueError(
                    f"`self.log({name}, {value})` was called, but the tensor must have a single "
                    f"element. You can try doing `self.log({name}, {value}.mean())`"
                )
            if value.ndim:
                value = value.squeeze()
        else:
            value = self._log_value_to_tensor(name, value)
        results = trainer._hub.results
        if results is not None:
            results.log(fx, name, value, options, batch_size)  # type: ignore[arg-type]

    def _log_value_to_tensor(self, name: str, value: Any) -> Any:
        if isinstance(value, Mapping):
            raise ValueError(
                f"`self.log({name}, {value})` was called, but nested dicts can't be logged."
            )
        if isinstance(value, bool):
            return torch.tensor(float(value), device=self.device)
        if isinstance(value, numbers.Number) and not isinstance(value, complex):
            return torch.tensor(value, device=self.device, dtype=torch.get_default_dtype())
        if hasattr(value, "compute") and hasattr(value, "_forward_cache"):
            return value  # a torchmetrics Metric
        raise ValueError(
            f"`self.log({name}, {value})` was called, but `{type(value).__name__}` values cannot be "
            "logged: log a Python number, a one-element tensor or a torchmetrics Metric."
        )

    def log_dict(
        self,
        dictionary: Mapping[str, Any],
        prog_bar: bool = False,
        logger: bool | None = None,
        on_step: bool | None = None,
        on_epoch: bool | None = None,
        reduce_fx: Any = "mean",
        enable_graph: bool = False,
        sync_dist: bool = False,
        sync_dist_group: Any = None,
        add_dataloader_idx: bool = True,
        batch_size: int | None = None,
        rank_zero_only: bool = False,
    ) -> None:
        """``self.log`` once per key, with the same options."""
        for key, val in dictionary.items():
            self.log(
                key,
                val,
                prog_bar=prog_bar,
                logger=logger,
                on_step=on_step,
                on_epoch=on_epoch,
                reduce_fx=reduce_fx,
                enable_graph=enable_graph,
                sync_dist=sync_dist,
                sync_dist_group=sync_dist_group,
                add_dataloader_idx=add_dataloader_idx,
                batch_size=batch_size,
                rank_zero_only=rank_zero_only,
            )

    def print(self, *args: Any, **kwargs: Any) -> None:
        print(*args, **kwargs)

    # ---- optimization -----------------------------------------------------------------------
    def optimizers(self, use_pl_optimizer: bool = True) -> Any:
        trainer = self.trainer
        opts = trainer._lightning_optimizers if use_pl_optimizer else trainer.optimizers
        return opts[0] if len(opts) == 1 else opts

    def lr_schedulers(self) -> Any:
        configs = self.trainer.lr_scheduler_configs
        if not configs:
            return None
        schedulers = [config.scheduler for config in configs]
        return schedulers[0] if len(schedulers) == 1 else schedulers

    def manual_backward(self, loss: torch.Tensor, *args: Any, **kwargs: Any) -> None:
        if self.automatic_optimization:
            raise MisconfigurationException(
                "`manual_backward` can only be called with `automatic_optimization = False`."
            )
        self.trainer._optimization.backward(loss, None, *args, **kwargs)

    def backward(self, loss: torch.Tensor, *args: Any, **kwargs: Any) -> None:
        loss.backward(*args, **kwargs)

    def toggle_optimizer(self, optimizer: Optimizer) -> None:
        """Only the parameters of ``optimizer`` keep ``requires_grad`` (multi-optimizer setups)."""
        own = {id(p) for group in optimizer.param_groups for p in group["params"]}
        states: dict[int, bool] = {}
        for opt in self.trainer.optimizers:
            for group in opt.param_groups:
                for param in group["params"]:
                    if id(param) not in own and id(param) not in states:
                        states[id(param)] = param.requires_grad
                        param.requires_grad = False
        object.__setattr__(self, "_param_requires_grad_state", states)

    def untoggle_optimizer(self, optimizer: Optimizer) -> None:
        states = getattr(self, "_param_requires_grad_state", {})
        for opt in self.trainer.optimizers:
            for group in opt.param_groups:
                for param in group["params"]:
                    if id(param) in states:
                        param.requires_grad = states[id(param)]
        object.__setattr__(self, "_param_requires_grad_state", {})

    def clip_gradients(
        self,
        optimizer: Optimizer,
        gradient_clip_val: float | None = None,
        gradient_clip_algorithm: str | None = None,
    ) -> None:
        trainer = self.trainer
        if gradient_clip_val is None:
            gradient_clip_val = trainer.gradient_clip_val or 0.0
        if gradient_clip_algorithm is None:
            gradient_clip_algorithm = trainer.gradient_clip_algorithm or "norm"
        if gradient_clip_algorithm not in ("norm", "value"):
            raise MisconfigurationException(
                f"`gradient_clip_algorithm` must be 'norm' or 'value', got {gradient_clip_algorithm!r}."
            )
        if gradient_clip_val <= 0:
            return
        params = [p for group in optimizer.param_groups for p in group["params"]]
        if gradient_clip_algorithm == "value":
            torch.nn.utils.clip_grad_value_(params, gradient_clip_val)
        else:
            torch.nn.utils.clip_grad_norm_(params, gradient_clip_val)

    def configure_gradient_clipping(
        self,
        optimizer: Optimizer,
        gradient_clip_val: float | None = None,
        gradient_clip_algorithm: str | None = None,
    ) -> None:
        self.clip_gradients(
            optimizer,
            gradient_clip_val=gradient_clip_val,
            gradient_clip_algorithm=gradient_clip_algorithm,
        )

    def lr_scheduler_step(self, scheduler: Any, metric: Any) -> None:
        if metric is None:
            scheduler.step()
        else:
            scheduler.step(metric)

    def optimizer_step(
        self, epoch: int, batch_idx: int, optimizer: Any, optimizer_closure: Any = None
    ) -> None:
        optimizer.step(closure=optimizer_closure)

    def optimizer_zero_grad(self, epoch: int, batch_idx: int, optimizer: Optimizer) -> None:
        optimizer.zero_grad()

    def freeze(self) -> None:
        for param in self.parameters():
            param.requires_grad = False
        self.eval()

    def unfreeze(self) -> None:
        for param in self.parameters():
            param.requires_grad = True
        self.train()

    # ---- loading ----------------------------------------------------------------------------
    @restricted_classmethod
    def load_from_checkpoint(
        cls,
        checkpoint_path: Any,
        map_location: Any = None,
        hparams_file: Any = None,
        strict: bool | None = None,
        weights_only: bool | None = None,
        **kwargs: Any,
    ) -> Any:
        """Build the module from a checkpoint's hyper_parameters (kwargs override) and weights.

        Loads with ``weights_only=True`` (tensors, plain containers and numbers only, so a
        crafted file cannot run code) unless ``weights_only=False`` is passed for a trusted file
        whose hyperparameters hold other objects; Lightning 2.6 does the same."""
        return load_module_from_checkpoint(
            cls, checkpoint_path, map_location, hparams_file, strict, weights_only, **kwargs
        )

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_trainer"] = None  # a trainer holds dataloaders and files; never pickle it along
        return state
