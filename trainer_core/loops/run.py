"""One ``fit/validate/test/predict`` call: setup, restore, the stage loop, teardown, errors."""

from __future__ import annotations

import os
import sys
import warnings
from typing import TYPE_CHECKING, Any

import torch

from trainer_core import checkpoint_io
from trainer_core.events import Event, ModuleHook
from trainer_core.hooks import DataHooks, is_overridden
from trainer_core.hparams import drop_unpicklable
from trainer_core.module import LightningModule
from trainer_core.optim import LightningOptimizer, configure_optimizers
from trainer_core.setup import merge_model_callbacks
from trainer_core.state import RunningStage, TrainerFn, TrainerStatus
from trainer_core.utilities.exceptions import MisconfigurationException, _TunerExitException

if TYPE_CHECKING:
    from trainer_core.datamodule import LightningDataModule
    from trainer_core.trainer import Trainer

_STAGES = {
    TrainerFn.FITTING: RunningStage.TRAINING,
    TrainerFn.VALIDATING: RunningStage.VALIDATING,
    TrainerFn.TESTING: RunningStage.TESTING,
    TrainerFn.PREDICTING: RunningStage.PREDICTING,
}


def set_torch_flags(deterministic: bool | str | None, benchmark: bool | None) -> None:
    """deterministic=True: deterministic algorithms and no cudnn benchmark (spec 9.4)."""
    if deterministic is not None:
        if deterministic and benchmark:
            warnings.warn(
                "You passed `deterministic=True` and `benchmark=True`. Note that PyTorch ignores "
                "torch.backends.cudnn.deterministic=True when torch.backends.cudnn.benchmark=True.",
                stacklevel=3,
            )
        if deterministic == "warn":
            torch.use_deterministic_algorithms(True, warn_only=True)
        else:
            torch.use_deterministic_algorithms(bool(deterministic))
        if deterministic:
            os.environ["CUBLAS_WORKSPACE_CONFIG"] = ":4096:8"
    if benchmark is not None:
        torch.backends.cudnn.benchmark = benchmark
    elif deterministic:
        torch.backends.cudnn.benchmark = False


def run(
    trainer: Trainer,
    fn: TrainerFn,
    model: LightningModule | None,
    datamodule: LightningDataModule | None,
    loaders: dict[str, Any],
    ckpt_path: Any,
    verbose: bool = True,
    weights_only: bool | None = None,
) -> Any:
    model_provided = model is not None
    model = _resolve_model(trainer, fn, model)
    if datamodule is not None and any(v is not None for v in loaders.values()):
        raise MisconfigurationException(
            f"You cannot pass both dataloaders and `datamodule=` to `trainer.{fn.value}()`: pass one."
        )
    ckpt_path = checkpoint_io.resolve_ckpt_path(trainer, fn, ckpt_path, model_provided)
    checkpoint = None
    if ckpt_path is not None:
        checkpoint = checkpoint_io.load_for_run(ckpt_path, weights_only)
    trainer.ckpt_path = ckpt_path
    trainer._attach(model, datamodule, loaders)
    drop_unpicklable(model.hparams)  # so checkpoints can be written (Lightning's clean_namespace)
    trainer.state.fn, trainer.state.stage = fn, _STAGES[fn]
    trainer.state.status = TrainerStatus.RUNNING
    trainer._hub.reset_metrics()
    trainer.profiler._lightning_module = model
    trainer.profiler.setup(stage=fn.value, local_rank=None, log_dir=trainer.log_dir)
    try:
        return _run_stage(trainer, fn, checkpoint, verbose)
    except _TunerExitException:  # Tuner: the tuning callback ran; the rest of the run is skipped
        _finish(trainer, fn.value)
        return None
    except KeyboardInterrupt as exc:
        print("\nDetected KeyboardInterrupt, attempting graceful shutdown ...")
        _interrupt(trainer, exc)
        sys.exit(1)
    except BaseException as exc:
        _interrupt(trainer, exc)
        raise


def _resolve_model(trainer: Trainer, fn: TrainerFn, model: Any) -> LightningModule:
    if model is None:
        model = trainer.lightning_module
        if model is None:
            raise MisconfigurationException(
                f"`model` must be provided to `trainer.{fn.value}()` when it hasn't been passed in "
                "a previous run"
            )
    if not isinstance(model, LightningModule):
        raise TypeError(
            f"`model` must be a `LightningModule` (trainer_core.LightningModule), got "
            f"`{type(model).__qualname__}`"
        )
    return model


def _run_stage(trainer: Trainer, fn: TrainerFn, checkpoint: dict | None, verbose: bool) -> Any:
    model = trainer.lightning_module
    assert model is not None
    if trainer._profiling:
        trainer._refresh_hooks()  # so configure_callbacks is timed too
    trainer.callbacks = merge_model_callbacks(
        trainer.callbacks, trainer._fire(ModuleHook.CONFIGURE_CALLBACKS)
    )
    trainer._refresh_hooks()
    _verify(trainer, fn)
    _prepare_data(trainer)
    stage = fn.value
    if trainer.datamodule is not None:
        trainer._call_datamodule("setup", stage)
    trainer._fire(Event.SETUP, stage)
    trainer._fire(ModuleHook.CONFIGURE_MODEL)
    trainer._refresh_hooks()  # setup/configure_model may have added hooks or layers
    if checkpoint is not None:
        checkpoint_io.restore_modules_and_callbacks(trainer, checkpoint)
    trainer.precision_plugin.convert_module(model.to(trainer.device))  # in place
    if fn == TrainerFn.FITTING:
        setup_optimizers(trainer)
        trainer._fire(Event.ON_FIT_START)
    log_hyperparams(trainer)
    if checkpoint is not None and fn == TrainerFn.FITTING:
        checkpoint_io.restore_training_state(trainer, checkpoint)
    model.zero_grad()
    result = _run_loop(trainer, fn, verbose)
    if trainer.device.type == "cuda":
        model.cpu()
    if fn == TrainerFn.FITTING:
        trainer._fire(Event.ON_FIT_END)
    _finish(trainer, stage)
    return result


def _finish(trainer: Trainer, stage: str) -> None:
    """Teardown hooks, loggers finalized as a success, the profiler's report."""
    if trainer.datamodule is not None:
        trainer._call_datamodule("teardown", stage)
    trainer._fire(Event.TEARDOWN, stage)
    trainer._hub.teardown()
    for logger in trainer.loggers:
        logger.finalize("success")
    trainer.profiler.describe()
    trainer.state.status = TrainerStatus.FINISHED
    trainer.state.stage = None


def _run_loop(trainer: Trainer, fn: TrainerFn, verbose: bool) -> Any:
    if fn == TrainerFn.FITTING:
        with torch.autograd.set_detect_anomaly(trainer.args.detect_anomaly):
            trainer.fit_loop.run()
        return None
    if fn == TrainerFn.PREDICTING:
        return trainer.predict_loop.run()
    loop = trainer.validate_loop if fn == TrainerFn.VALIDATING else trainer.test_loop
    outputs = loop.run_standalone(verbose)
    return [{k: v.item() if torch.is_tensor(v) else v for k, v in d.items()} for d in outputs]


def _verify(trainer: Trainer, fn: TrainerFn) -> None:
    """Refuse a setup that cannot run, before any hook does work (spec: Bad input)."""
    model = trainer.lightning_module
    data = trainer.data_sources
    where = "the datamodule" if trainer.datamodule is not None else "the LightningModule"
    if fn == TrainerFn.FITTING:
        if not is_overridden("training_step", model, LightningModule):
            raise MisconfigurationException(
                "No `training_step()` method defined. Lightning `Trainer` expects as minimum a "
                "`training_step()`, `train_dataloader()` and `configure_optimizers()` to be defined."
            )
        if not data.is_defined("train"):
            raise MisconfigurationException(
                f"No `train_dataloader()` method defined in {where}. Implement it, or pass "
                "`train_dataloaders=` to `trainer.fit()`."
            )
        if data.is_defined("val") and not is_overridden("validation_step", model, LightningModule):
            warnings.warn(
                "You passed in a `val_dataloader` but have no `validation_step`. Skipping val loop.",
                stacklevel=4,
            )
        _verify_manual_optimization(trainer)
        return
    stage = {"validate": "val", "test": "test", "predict": "predict"}[fn.value]
    step = {"val": "validation_step", "test": "test_step", "predict": "predict_step"}[stage]
    if stage != "predict" and not is_overridden(step, model, LightningModule):
        raise MisconfigurationException(
            f"No `{step}()` method defined to run `Trainer.{fn.value}`. Implement it in your "
            "LightningModule."
        )
    if not data.is_defined(stage):
        raise MisconfigurationException(
            f"No `{stage}_dataloader()` method defined to run `Trainer.{fn.value}` in {where}. "
            f"Implement it, or pass `dataloaders=` to `trainer.{fn.value}()`."
        )


def _verify_manual_optimization(trainer: Trainer) -> None:
    model = trainer.lightning_module
    if model is None or model.automatic_optimization:
        return
    if trainer.gradient_clip_val is not None and trainer.gradient_clip_val > 0:
        raise MisconfigurationException(
            "Automatic gradient clipping is not supported for manual optimization. Remove "
            f"`Trainer(gradient_clip_val={trainer.gradient_clip_val})` or switch to automatic "
            "optimization; in manual mode call `self.clip_gradients(opt, ...)`."
        )
    if trainer.accumulate_grad_batches != 1:
        raise MisconfigurationException(
            "Automatic gradient accumulation is not supported for manual optimization. Remove "
            f"`Trainer(accumulate_grad_batches={trainer.accumulate_grad_batches})` or switch to "
            "automatic optimization."
        )


def _prepare_data(trainer: Trainer) -> None:
    datamodule = trainer.datamodule
    if is_overridden("prepare_data", datamodule, DataHooks):
        trainer._call_datamodule("prepare_data")
    if is_overridden("prepare_data", trainer.lightning_module, DataHooks):
        trainer._fire(ModuleHook.PREPARE_DATA)


def setup_optimizers(trainer: Trainer) -> None:
    model = trainer.lightning_module
    assert model is not None
    optimizers, configs, _ = configure_optimizers(trainer._fire(ModuleHook.CONFIGURE_OPTIMIZERS))
    if model.automatic_optimization and len(optimizers) > 1:
        raise RuntimeError(
            "Training with multiple optimizers is only supported with manual optimization. Set "
            "`self.automatic_optimization = False`, then access your optimizers in `training_step` "
            "with `opt1, opt2, ... = self.optimizers()`."
        )
    trainer.optimizers = optimizers
    trainer.lr_scheduler_configs = configs
    trainer._lightning_optimizers = []
    for optimizer in optimizers:
        wrapped = LightningOptimizer(optimizer)
        wrapped._step_fn = trainer._optimization.optimizer_step_fn
        trainer._lightning_optimizers.append(wrapped)


def log_hyperparams(trainer: Trainer) -> None:
    """Send hparams_initial (module + datamodule, merged) to every logger (spec 5)."""
    if not trainer.loggers:
        return
    model, datamodule = trainer.lightning_module, trainer.datamodule
    hparams = None
    if trainer.args.enable_autolog_hparams:
        dm_logs = datamodule is not None and datamodule._log_hyperparams
        if model._log_hyperparams and dm_logs:  # type: ignore[union-attr]
            hparams = _merge_hparams(model.hparams_initial, datamodule.hparams_initial)  # type: ignore[union-attr]
        elif model._log_hyperparams:  # type: ignore[union-attr]
            hparams = model.hparams_initial  # type: ignore[union-attr]
        elif dm_logs:
            hparams = datamodule.hparams_initial  # type: ignore[union-attr]
    for logger in trainer.loggers:
        if hparams is not None:
            logger.log_hyperparams(hparams)
        logger.log_graph(model)
        logger.save()


def _merge_hparams(module_hp: dict, datamodule_hp: dict) -> dict:
    shared = set(module_hp) & set(datamodule_hp)
    conflicts = [k for k in shared if module_hp[k] != datamodule_hp[k]]
    if conflicts:
        raise RuntimeError(
            f"Error while merging hparams: the keys {conflicts} are present in both the "
            "LightningModule's and LightningDataModule's hparams but have different values."
        )
    return {**module_hp, **datamodule_hp}


def _interrupt(trainer: Trainer, exc: BaseException) -> None:
    trainer.state.status = TrainerStatus.INTERRUPTED
    if trainer.lightning_module is not None:
        trainer._fire(Event.ON_EXCEPTION, exc)
    if trainer.datamodule is not None:
        trainer._call_datamodule("on_exception", exc)
    for logger in trainer.loggers:
        logger.finalize("failed")
    trainer._hub.teardown()
    trainer.state.stage = None
