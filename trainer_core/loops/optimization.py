"""One training batch: the automatic-optimization closure, manual mode, backward, schedulers."""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch
from torch.optim import Optimizer

from trainer_core.events import Event, ModuleHook
from trainer_core.hooks import is_overridden
from trainer_core.module import LightningModule
from trainer_core.profilers import actions
from trainer_core.profilers.base import Profiler
from trainer_core.utilities.exceptions import MisconfigurationException

if TYPE_CHECKING:
    from trainer_core.trainer import Trainer


class _Closure:
    """What ``optimizer.step(closure)`` runs: training_step, zero_grad, backward (spec 1.3)."""

    automatic = True

    def __init__(self, opt: Optimization, batch: Any, batch_idx: int, zero_grad: bool) -> None:
        self.opt = opt
        self.batch = batch
        self.batch_idx = batch_idx
        self.zero_grad = zero_grad
        self.outputs: dict[str, Any] = {}

    def __call__(self) -> torch.Tensor | None:
        opt = self.opt
        trainer = opt.trainer
        with trainer.precision_plugin.autocast():
            output = opt.training_step(self.batch, self.batch_idx)
        loss, extra = _split_output(output)
        optimizer = trainer.optimizers[0]
        if self.zero_grad and not opt.skip_backward:
            counter = trainer.state.progress.zero_grad
            counter.inc("ready")
            trainer._fire(Event.ON_BEFORE_ZERO_GRAD, optimizer)
            counter.inc("started")
            if opt.custom_zero_grad:
                trainer._fire(
                    ModuleHook.OPTIMIZER_ZERO_GRAD, trainer.current_epoch, self.batch_idx, optimizer
                )
            else:
                optimizer.zero_grad()
            counter.inc("completed")
        if loss is None:
            if output is None:
                warnings.warn(
                    "`training_step` returned `None`. If this was on purpose, ignore this warning...",
                    stacklevel=2,
                )
            self.outputs = {}
            return None
        if opt.accumulate > 1:
            loss = loss / opt.accumulate
        if opt.skip_backward:
            pass
        elif opt.profiler is None:
            opt.backward(loss, optimizer)
        else:  # Lightning's closure calls the strategy's backward: timed under that name
            with opt.profiler.profile(actions.BACKWARD):
                opt.backward(loss, optimizer)
        self.outputs = {"loss": loss.detach(), **extra}
        return loss


def _split_output(output: Any) -> tuple[torch.Tensor | None, dict[str, Any]]:
    if output is None:
        return None, {}
    if isinstance(output, torch.Tensor):
        return output, {}
    if isinstance(output, Mapping):
        if "loss" not in output:
            raise MisconfigurationException(
                "In automatic optimization, `training_step` must return a Tensor, a dict with a "
                "'loss' key, or None. The returned dict has no 'loss' key."
            )
        return output["loss"], {k: v for k, v in output.items() if k != "loss"}
    raise MisconfigurationException(
        f"In automatic optimization, `training_step` must return a Tensor, a dict, or None "
        f"(where the step will be skipped). Got {type(output).__name__}."
    )


class Optimization:
    """Runs one training batch and owns backward and LR scheduler stepping."""

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer
        # SWA's batch-norm epoch runs forward passes only (Lightning's ``fit_loop._skip_backward``)
        self.skip_backward = False
        self._step_takes_idx = True
        self.custom_zero_grad = self.custom_backward = self.custom_step = True
        self.clipping = True
        self.automatic = True
        self.profiler: Profiler | None = None  # set for a run with a profiler

    def start(self) -> None:
        """Cache per-fit facts so the per-batch path does not recompute them.

        A hook the module does not override has a known default (``optimizer.zero_grad()``,
        ``loss.backward()``...), so that default is called directly instead of through dispatch.
        """
        trainer = self.trainer
        module = trainer.lightning_module
        self.automatic = module.automatic_optimization  # type: ignore[union-attr]
        self.custom_zero_grad = is_overridden("optimizer_zero_grad", module, LightningModule)
        self.custom_backward = is_overridden("backward", module, LightningModule)
        self.custom_step = is_overridden("optimizer_step", module, LightningModule)
        self.clipping = bool(trainer.gradient_clip_val) or any(
            is_overridden(name, module, LightningModule)
            for name in ("configure_gradient_clipping", "clip_gradients")
        )
        self.profiler = trainer.profiler if trainer._profiling else None
        if self.profiler is not None:  # Lightning calls (and times) these hooks every batch
            self.custom_zero_grad = self.custom_step = self.clipping = True
        params = inspect.signature(trainer.lightning_module.training_step).parameters  # type: ignore[union-attr]
        positional = [
            p for p in params.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        has_var = any(p.kind is p.VAR_POSITIONAL for p in params.values())
        self._step_takes_idx = has_var or len(positional) >= 2 or "batch_idx" in params

    @property
    def accumulate(self) -> int:
        """Read per batch: callbacks may change it between epochs (GradientAccumulationScheduler)."""
        return self.trainer.args.accumulate_grad_batches

    def training_step(self, batch: Any, batch_idx: int) -> Any:
        trainer = self.trainer
        if self._step_takes_idx:
            return trainer._fire(ModuleHook.TRAINING_STEP, batch, batch_idx)
        return trainer._fire(ModuleHook.TRAINING_STEP, batch)

    def should_accumulate(self, batch_idx: int, is_last: bool) -> bool:
        """Automatic mode inside an accumulation window: no optimizer step after this batch."""
        return self.automatic and (batch_idx + 1) % self.accumulate != 0 and not is_last

    def run_batch(self, batch: Any, batch_idx: int, accumulating: bool) -> dict[str, Any]:
        """optimizer_step(closure) in automatic mode, training_step alone in manual mode."""
        if self.automatic:
            return self.run_automatic(batch, batch_idx, accumulating)
        return self.run_manual(batch, batch_idx)

    def run_automatic(self, batch: Any, batch_idx: int, accumulating: bool) -> dict[str, Any]:
        trainer = self.trainer
        closure = _Closure(self, batch, batch_idx, zero_grad=batch_idx % self.accumulate == 0)
        if accumulating:
            closure()  # gradients add up; no optimizer step until the window closes
        elif self.custom_step:
            optimizer = trainer._lightning_optimizers[0]
            trainer._fire(
                ModuleHook.OPTIMIZER_STEP, trainer.current_epoch, batch_idx, optimizer, closure
            )
        else:  # the default optimizer_step is ``optimizer.step(closure=closure)``
            self.optimizer_step_fn(trainer.optimizers[0], closure)
        return closure.outputs

    def run_manual(self, batch: Any, batch_idx: int) -> dict[str, Any]:
        with self.trainer.precision_plugin.autocast():
            output = self.training_step(batch, batch_idx)
        if output is None:
            return {}
        if isinstance(output, torch.Tensor):
            return {"loss": output.detach()}
        if isinstance(output, Mapping):
            return {
                k: v.detach() if k == "loss" and torch.is_tensor(v) else v
                for k, v in output.items()
            }
        raise MisconfigurationException(
            f"In manual optimization, `training_step` must return a Tensor, a dict, or None. Got "
            f"{type(output).__name__}."
        )

    def backward(
        self, loss: torch.Tensor, optimizer: Optimizer | None, *args: Any, **kwargs: Any
    ) -> None:
        """on_before_backward, module.backward, on_after_backward (scaled under fp16 AMP)."""
        trainer = self.trainer
        loss = trainer.precision_plugin.scale_loss(loss)
        trainer._fire(Event.ON_BEFORE_BACKWARD, loss)
        if self.custom_backward or args or kwargs:
            trainer._fire(ModuleHook.BACKWARD, loss, *args, **kwargs)
        else:
            loss.backward()
        trainer._fire(Event.ON_AFTER_BACKWARD)

    def optimizer_step_fn(self, optimizer: Optimizer, closure: Any, **kwargs: Any) -> Any:
        """What ``LightningOptimizer.step`` runs; each call is one global step."""
        trainer = self.trainer
        if closure is None:
            closure = _noop
        progress = trainer.state.progress
        counter = progress.optimizer_step if self.automatic else progress.manual_step
        counter.inc("ready")
        if self.profiler is not None and not self.automatic:  # Lightning times manual steps
            self.profiler.start(actions.MANUAL_OPTIMIZER_STEP)
        output = trainer.precision_plugin.optimizer_step(
            optimizer, closure, self._after_closure, **kwargs
        )
        if self.profiler is not None and not self.automatic:
            self.profiler.stop(actions.MANUAL_OPTIMIZER_STEP)
        counter.inc("completed")
        trainer.state.global_step += 1
        return output

    def _after_closure(self, optimizer: Optimizer) -> None:
        trainer = self.trainer
        trainer._fire(Event.ON_BEFORE_OPTIMIZER_STEP, optimizer)
        if self.clipping and trainer.lightning_module.automatic_optimization:  # type: ignore[union-attr]
            trainer._fire(
                ModuleHook.CONFIGURE_GRADIENT_CLIPPING,
                optimizer,
                gradient_clip_val=trainer.gradient_clip_val,
                gradient_clip_algorithm=trainer.gradient_clip_algorithm,
            )

    def update_lr_schedulers(self, interval: str, plateau: bool, batch_idx: int) -> None:
        """Step the schedulers whose interval/frequency match (spec 8.4)."""
        trainer = self.trainer
        # read per call: SWA adds its scheduler in the middle of a fit
        if not trainer.lr_scheduler_configs or not self.automatic:
            return
        for config in trainer.lr_scheduler_configs:
            if plateau != config.reduce_on_plateau or config.interval != interval:
                continue
            index = (batch_idx if interval == "step" else trainer.current_epoch) + 1
            if index % config.frequency != 0:
                continue
            metric = None
            if config.reduce_on_plateau:
                metric = trainer.callback_metrics.get(config.monitor)  # type: ignore[arg-type]
                if metric is None:
                    if config.strict:
                        raise MisconfigurationException(
                            f"ReduceLROnPlateau conditioned on metric {config.monitor} which is not "
                            f"available. Available metrics are: {list(trainer.callback_metrics)}. "
                            "Condition can be set using `monitor` key in lr scheduler dict"
                        )
                    warnings.warn(
                        f"ReduceLROnPlateau conditioned on metric {config.monitor} which is not "
                        "available but strict is set to `False`. Skipping learning rate update.",
                        RuntimeWarning,
                        stacklevel=2,
                    )
                    continue
            trainer.state.progress.scheduler.inc("ready")
            trainer._fire(ModuleHook.LR_SCHEDULER_STEP, config.scheduler, metric)
            trainer.state.progress.scheduler.inc("completed")


def _noop() -> None:
    return None
