"""Trainer: arguments, public properties, the four entry points and the hook dispatcher."""

from __future__ import annotations

import os
from typing import Any

import torch

from trainer_core import checkpoint_io
from trainer_core.accelerator import select_accelerator, select_device
from trainer_core.callbacks.base import Callback
from trainer_core.callbacks.early_stopping import EarlyStopping
from trainer_core.callbacks.model_checkpoint import Checkpoint
from trainer_core.callbacks.progress import ProgressBar
from trainer_core.data_sources import DataSources
from trainer_core.datamodule import LightningDataModule
from trainer_core.dispatch import HookDispatch
from trainer_core.loggers import CSVLogger, TensorBoardLogger
from trainer_core.logging.connector import MetricsHub
from trainer_core.logging.results import Results
from trainer_core.loops import run as run_mod
from trainer_core.loops.eval import EvalLoop, PredictLoop
from trainer_core.loops.fit import FitLoop
from trainer_core.loops.optimization import Optimization
from trainer_core.module import LightningModule
from trainer_core.optim import LightningOptimizer, LRSchedulerConfig
from trainer_core.precision import make_precision, parse_precision
from trainer_core.profilers import actions, build_profiler
from trainer_core.setup import TrainerArgs, build_callbacks, build_loggers, parse_args
from trainer_core.state import RunningStage, TrainerFn, TrainerState, TrainerStatus
from trainer_core.utilities.exceptions import MisconfigurationException


def _arg(name: str) -> property:
    return property(lambda self: getattr(self.args, name), doc=f"Trainer({name}=...)")


class Trainer(HookDispatch):
    """Runs a LightningModule: ``fit``, ``validate``, ``test`` and ``predict``."""

    def __init__(
        self,
        *,
        accelerator: Any = "auto",
        strategy: Any = "auto",
        devices: Any = "auto",
        num_nodes: int = 1,
        precision: Any = None,
        logger: Any = None,
        callbacks: Any = None,
        fast_dev_run: int | bool = False,
        max_epochs: int | None = None,
        min_epochs: int | None = None,
        max_steps: int = -1,
        min_steps: int | None = None,
        max_time: Any = None,
        limit_train_batches: int | float | None = None,
        limit_val_batches: int | float | None = None,
        limit_test_batches: int | float | None = None,
        limit_predict_batches: int | float | None = None,
        overfit_batches: int | float = 0.0,
        val_check_interval: int | float | None = None,
        check_val_every_n_epoch: int | None = 1,
        num_sanity_val_steps: int | None = None,
        log_every_n_steps: int | None = None,
        enable_checkpointing: bool | None = None,
        enable_progress_bar: bool | None = None,
        enable_model_summary: bool | None = None,
        accumulate_grad_batches: int = 1,
        gradient_clip_val: float | None = None,
        gradient_clip_algorithm: str | None = None,
        deterministic: bool | str | None = None,
        benchmark: bool | None = None,
        inference_mode: bool = True,
        use_distributed_sampler: bool = True,
        profiler: Any = None,
        detect_anomaly: bool = False,
        barebones: bool = False,
        plugins: Any = None,
        sync_batchnorm: bool = False,
        reload_dataloaders_every_n_epochs: int = 0,
        default_root_dir: str | os.PathLike | None = None,
        enable_autolog_hparams: bool = True,
        model_registry: str | None = None,
    ) -> None:
        if num_nodes != 1 or strategy not in ("auto", None, "single_device"):
            raise MisconfigurationException(
                "trainer_core trains in one process on one device: use strategy='auto', num_nodes=1."
            )
        self.args: TrainerArgs = parse_args(**{k: v for k, v in locals().items() if k != "self"})
        if barebones:
            logger, enable_checkpointing, enable_progress_bar, enable_model_summary = (False,) * 4
        self.accelerator = select_accelerator(accelerator)
        self.strategy_device = select_device(self.accelerator, devices)
        self.precision = parse_precision(precision)
        self.precision_plugin = make_precision(self.precision, self.strategy_device.type)
        run_mod.set_torch_flags(deterministic, benchmark)
        self.deterministic = deterministic
        self.loggers = build_loggers(logger, self.args.default_root_dir, self.args.fast_dev_run)
        self.callbacks: list[Callback] = build_callbacks(
            callbacks,
            enable_checkpointing is not False,
            enable_progress_bar is not False,
            enable_model_summary is not False,
            max_time,
        )
        if barebones and profiler is not None:
            raise ValueError(
                f"`Trainer(barebones=True, profiler={profiler!r})` was passed. Profiling can impact "
                "raw speed so it is disabled in barebones mode."
            )
        self.profiler = build_profiler(profiler)
        self._init_run_state()

    def _init_run_state(self) -> None:
        """What a run fills in: the attached module, optimizers, loops and counters."""
        self.state = TrainerState()
        self._hub = MetricsHub(self)
        self.lightning_module: LightningModule | None = None
        self.datamodule: LightningDataModule | None = None
        self.optimizers: list[torch.optim.Optimizer] = []
        self._lightning_optimizers: list[LightningOptimizer] = []
        self.lr_scheduler_configs: list[LRSchedulerConfig] = []
        self.fit_loop = FitLoop(self)
        self.validate_loop = EvalLoop(self, RunningStage.VALIDATING)
        self.test_loop = EvalLoop(self, RunningStage.TESTING)
        self.predict_loop = PredictLoop(self)
        self._optimization = Optimization(self)
        self.num_training_batches: int | float = float("inf")
        self.num_sanity_val_batches: list[int | float] = []
        self.num_val_batches: list[int | float] = []
        self.num_test_batches: list[int | float] = []
        self.num_predict_batches: list[int | float] = []
        self.val_check_batch: int | float = float("inf")
        self.ckpt_path: str | None = None
        self._table = {}
        self.data_sources = DataSources(self)

    def _attach(
        self, model: LightningModule, datamodule: LightningDataModule | None, loaders: dict
    ) -> None:
        """Take the module, datamodule and loaders of a ``fit``/``validate``/... call."""
        self.lightning_module = model
        model.trainer = self
        self.datamodule = datamodule
        if datamodule is not None:
            datamodule.trainer = self
        self.data_sources.use(loaders)

    # ---- arguments and state, as Lightning exposes them --------------------------------------
    min_epochs = _arg("min_epochs")
    max_steps = _arg("max_steps")
    min_steps = _arg("min_steps")
    limit_train_batches = _arg("limit_train_batches")
    limit_val_batches = _arg("limit_val_batches")
    limit_test_batches = _arg("limit_test_batches")
    limit_predict_batches = _arg("limit_predict_batches")
    overfit_batches = _arg("overfit_batches")
    val_check_interval = _arg("val_check_interval")
    check_val_every_n_epoch = _arg("check_val_every_n_epoch")
    num_sanity_val_steps = _arg("num_sanity_val_steps")
    log_every_n_steps = _arg("log_every_n_steps")
    gradient_clip_val = _arg("gradient_clip_val")
    gradient_clip_algorithm = _arg("gradient_clip_algorithm")
    fast_dev_run = _arg("fast_dev_run")
    default_root_dir = _arg("default_root_dir")
    barebones = _arg("barebones")

    @property
    def accumulate_grad_batches(self) -> int:
        return self.args.accumulate_grad_batches

    @accumulate_grad_batches.setter
    def accumulate_grad_batches(self, value: int) -> None:
        # GradientAccumulationScheduler and SWA change it between epochs, as in Lightning.
        self.args.accumulate_grad_batches = value

    @property
    def max_epochs(self) -> int:
        """The effective limit, as Lightning reports it: 1000 by default, -1 (none) when only
        ``max_steps`` or ``max_time`` bound the run."""
        return self.fit_loop.max_epochs

    @property
    def current_epoch(self) -> int:
        return self.state.current_epoch

    @property
    def global_step(self) -> int:
        return self.state.global_step

    @property
    def should_stop(self) -> bool:
        return self.state.should_stop

    @should_stop.setter
    def should_stop(self, value: bool) -> None:
        self.state.should_stop = value

    @property
    def is_last_batch(self) -> bool:
        return self.state.is_last_batch

    @property
    def sanity_checking(self) -> bool:
        return self.state.stage == RunningStage.SANITY_CHECKING

    @property
    def training(self) -> bool:
        return self.state.stage == RunningStage.TRAINING

    @property
    def validating(self) -> bool:
        return self.state.stage == RunningStage.VALIDATING

    @property
    def testing(self) -> bool:
        return self.state.stage == RunningStage.TESTING

    @property
    def predicting(self) -> bool:
        return self.state.stage == RunningStage.PREDICTING

    @property
    def interrupted(self) -> bool:
        return self.state.status == TrainerStatus.INTERRUPTED

    @property
    def device(self) -> torch.device:
        return self.strategy_device

    @property
    def model(self) -> LightningModule | None:
        return self.lightning_module

    @property
    def _results(self) -> Results | None:
        return self._hub.results

    @property
    def callback_metrics(self) -> dict[str, torch.Tensor]:
        return self._hub.callback_metrics

    @property
    def logged_metrics(self) -> dict[str, torch.Tensor]:
        return self._hub.logged_metrics

    @property
    def progress_bar_metrics(self) -> dict[str, float]:
        return self._hub.progress_bar_metrics

    @property
    def logger(self) -> Any:
        return self.loggers[0] if self.loggers else None

    @logger.setter
    def logger(self, logger: Any) -> None:
        self.loggers = [] if logger is None else [logger]

    @property
    def log_dir(self) -> str | None:
        if not self.loggers:
            return self.default_root_dir
        first = self.loggers[0]
        return (
            first.log_dir if isinstance(first, (CSVLogger, TensorBoardLogger)) else first.save_dir
        )

    @property
    def checkpoint_callbacks(self) -> list[Any]:
        return [cb for cb in self.callbacks if isinstance(cb, Checkpoint)]

    @property
    def checkpoint_callback(self) -> Any:
        callbacks = self.checkpoint_callbacks
        return callbacks[0] if callbacks else None

    @property
    def early_stopping_callbacks(self) -> list[Any]:
        return [cb for cb in self.callbacks if isinstance(cb, EarlyStopping)]

    @property
    def early_stopping_callback(self) -> Any:
        callbacks = self.early_stopping_callbacks
        return callbacks[0] if callbacks else None

    @property
    def progress_bar_callback(self) -> Any:
        return next((cb for cb in self.callbacks if isinstance(cb, ProgressBar)), None)

    @property
    def enable_validation(self) -> bool:
        return self.fit_loop.validation_enabled()

    @property
    def estimated_stepping_batches(self) -> int | float:
        return self.fit_loop.estimated_stepping_batches()

    @property
    def is_global_zero(self) -> bool:
        return True

    global_rank = local_rank = node_rank = 0
    world_size = num_nodes = num_devices = 1

    # ---- entry points -------------------------------------------------------------------------
    def fit(
        self,
        model: LightningModule,
        train_dataloaders: Any = None,
        val_dataloaders: Any = None,
        datamodule: LightningDataModule | None = None,
        ckpt_path: str | os.PathLike | None = None,
        weights_only: bool | None = None,
    ) -> None:
        """Train ``model``; returns None (spec section 3).

        ``ckpt_path`` is read with ``weights_only=True`` unless ``weights_only=False`` is
        passed (a trusted file holding other objects), as in every entry point below."""
        if isinstance(train_dataloaders, LightningDataModule):
            datamodule, train_dataloaders = train_dataloaders, None
        loaders = {"train": train_dataloaders, "val": val_dataloaders}
        # reset before any hook, as Lightning does: a stop asked for in on_fit_start (a spent
        # Timer) or restored with the state then ends this fit before it trains
        self.state.should_stop = False
        run_mod.run(
            self,
            TrainerFn.FITTING,
            model,
            datamodule,
            loaders,
            ckpt_path,
            weights_only=weights_only,
        )

    def validate(
        self,
        model: LightningModule | None = None,
        dataloaders: Any = None,
        ckpt_path: str | os.PathLike | None = None,
        verbose: bool = True,
        datamodule: LightningDataModule | None = None,
        weights_only: bool | None = None,
    ) -> list[dict[str, float]]:
        """One pass over the val data; one dict of epoch metrics per dataloader."""
        if isinstance(dataloaders, LightningDataModule):
            datamodule, dataloaders = dataloaders, None
        loaders = {"val": dataloaders}
        return run_mod.run(  # type: ignore[no-any-return]
            self, TrainerFn.VALIDATING, model, datamodule, loaders, ckpt_path, verbose, weights_only
        )

    def test(
        self,
        model: LightningModule | None = None,
        dataloaders: Any = None,
        ckpt_path: str | os.PathLike | None = None,
        verbose: bool = True,
        datamodule: LightningDataModule | None = None,
        weights_only: bool | None = None,
    ) -> list[dict[str, float]]:
        """One pass over the test data; one dict of epoch metrics per dataloader."""
        if isinstance(dataloaders, LightningDataModule):
            datamodule, dataloaders = dataloaders, None
        loaders = {"test": dataloaders}
        return run_mod.run(  # type: ignore[no-any-return]
            self, TrainerFn.TESTING, model, datamodule, loaders, ckpt_path, verbose, weights_only
        )

    def predict(
        self,
        model: LightningModule | None = None,
        dataloaders: Any = None,
        datamodule: LightningDataModule | None = None,
        return_predictions: bool | None = None,
        ckpt_path: str | os.PathLike | None = None,
        weights_only: bool | None = None,
    ) -> Any:
        """predict_step outputs on CPU: a list per dataloader (a list of lists for several)."""
        if isinstance(dataloaders, LightningDataModule):
            datamodule, dataloaders = dataloaders, None
        self.predict_loop.return_predictions = return_predictions is not False
        loaders = {"predict": dataloaders}
        return run_mod.run(
            self,
            TrainerFn.PREDICTING,
            model,
            datamodule,
            loaders,
            ckpt_path,
            weights_only=weights_only,
        )

    def save_checkpoint(
        self, filepath: str | os.PathLike, weights_only: bool = False, storage_options: Any = None
    ) -> None:
        """Write the current state (spec section 4) to ``filepath``."""
        if self.lightning_module is None:
            raise AttributeError(
                "Saving a checkpoint is only possible if a model is attached to the Trainer. Did you "
                "call `Trainer.save_checkpoint()` before calling `Trainer.{fit,validate,test,predict}`?"
            )
        if self._profiling:
            with self.profiler.profile(actions.SAVE_CHECKPOINT):
                checkpoint = checkpoint_io.dump_checkpoint(self, weights_only)
                checkpoint_io.write_checkpoint(checkpoint, filepath)
            return
        checkpoint = checkpoint_io.dump_checkpoint(self, weights_only)
        checkpoint_io.write_checkpoint(checkpoint, filepath)
