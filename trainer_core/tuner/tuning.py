"""``Tuner(trainer)``: ``lr_find`` and ``scale_batch_size`` with Lightning's arguments."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from trainer_core.tuner.batch_size_scaling import BatchSizeFinder
from trainer_core.tuner.lr_finder import LearningRateFinder
from trainer_core.utilities.exceptions import MisconfigurationException

if TYPE_CHECKING:
    from trainer_core.datamodule import LightningDataModule
    from trainer_core.module import LightningModule
    from trainer_core.trainer import Trainer
    from trainer_core.tuner.lr_finder import _LRFinder

_METHODS = ("fit", "validate", "test", "predict")


class Tuner:
    """Tune a model's learning rate or batch size with the trainer it will train with."""

    def __init__(self, trainer: Trainer) -> None:
        self._trainer = trainer

    def scale_batch_size(
        self,
        model: LightningModule,
        train_dataloaders: Any = None,
        val_dataloaders: Any = None,
        dataloaders: Any = None,
        datamodule: LightningDataModule | None = None,
        method: Literal["fit", "validate", "test", "predict"] = "fit",
        mode: str = "power",
        steps_per_trial: int = 3,
        init_val: int = 2,
        max_trials: int = 25,
        batch_arg_name: str = "batch_size",
        margin: float = 0.05,
        max_val: int = 8192,
    ) -> int | None:
        """The largest batch size that does not run out of memory; it is set on the model."""
        _check_tuner_configuration(train_dataloaders, val_dataloaders, dataloaders, method)
        _refuse_configured(self._trainer, BatchSizeFinder)
        finder = BatchSizeFinder(
            mode=mode, steps_per_trial=steps_per_trial, init_val=init_val, max_trials=max_trials,
            batch_arg_name=batch_arg_name, margin=margin, max_val=max_val,
        )  # fmt: skip
        finder._early_exit = True  # the Tuner's run ends once the size is found
        self._run(
            finder, model, method, train_dataloaders, val_dataloaders, dataloaders, datamodule
        )
        return finder.optimal_batch_size

    def lr_find(
        self,
        model: LightningModule,
        train_dataloaders: Any = None,
        val_dataloaders: Any = None,
        dataloaders: Any = None,
        datamodule: LightningDataModule | None = None,
        method: Literal["fit", "validate", "test", "predict"] = "fit",
        min_lr: float = 1e-8,
        max_lr: float = 1,
        num_training: int = 100,
        mode: str = "exponential",
        early_stop_threshold: float | None = 4.0,
        update_attr: bool = True,
        attr_name: str = "",
    ) -> _LRFinder | None:
        """Range-test learning rates; the result has ``suggestion()`` and ``plot()``."""
        if method != "fit":
            raise MisconfigurationException(
                "method='fit' is the only valid configuration to run lr finder."
            )
        _check_tuner_configuration(train_dataloaders, val_dataloaders, dataloaders, method)
        _refuse_configured(self._trainer, LearningRateFinder)
        finder = LearningRateFinder(
            min_lr=min_lr, max_lr=max_lr, num_training_steps=num_training, mode=mode,
            early_stop_threshold=early_stop_threshold, update_attr=update_attr,
            attr_name=attr_name,
        )  # fmt: skip
        finder._early_exit = True
        self._run(finder, model, method, train_dataloaders, val_dataloaders, None, datamodule)
        return finder.optimal_lr

    def _run(
        self,
        finder: Any,
        model: LightningModule,
        method: str,
        train_dataloaders: Any,
        val_dataloaders: Any,
        dataloaders: Any,
        datamodule: LightningDataModule | None,
    ) -> None:
        """Run ``method`` with ``finder`` first among the callbacks, then take it out again."""
        trainer = self._trainer
        trainer.callbacks = [finder, *trainer.callbacks]
        try:
            if method == "fit":
                trainer.fit(model, train_dataloaders, val_dataloaders, datamodule)
            elif method == "validate":
                trainer.validate(model, dataloaders, datamodule=datamodule)
            elif method == "test":
                trainer.test(model, dataloaders, datamodule=datamodule)
            else:
                trainer.predict(model, dataloaders, datamodule=datamodule)
        finally:
            trainer.callbacks = [cb for cb in trainer.callbacks if cb is not finder]


def _check_tuner_configuration(
    train_dataloaders: Any, val_dataloaders: Any, dataloaders: Any, method: str
) -> None:
    if method not in _METHODS:
        raise ValueError(f"method {method!r} is invalid. Should be one of {_METHODS}.")
    if method == "fit":
        if dataloaders is not None:
            raise MisconfigurationException(
                f"In tuner with method={method!r}, `dataloaders` argument should be None, please "
                "consider setting `train_dataloaders` and `val_dataloaders` instead."
            )
    elif train_dataloaders is not None or val_dataloaders is not None:
        raise MisconfigurationException(
            f"In tuner with `method`={method!r}, `train_dataloaders` and `val_dataloaders` "
            "arguments should be None, please consider setting `dataloaders` instead."
        )


def _refuse_configured(trainer: Trainer, kind: type) -> None:
    if any(isinstance(cb, kind) for cb in trainer.callbacks):
        raise ValueError(
            f"Trainer is already configured with a `{kind.__name__}` callback. Please remove it "
            "if you want to use the Tuner."
        )
