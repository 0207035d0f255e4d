"""Where each stage's dataloaders come from: explicit loaders, the datamodule, or the module."""

from __future__ import annotations

import math
from functools import partial
from typing import TYPE_CHECKING, Any

from trainer_core.data import (
    apply_limit,
    as_dataloader_list,
    dataloader_length,
    sequential_copy,
    with_index_tracking,
)
from trainer_core.events import ModuleHook
from trainer_core.hooks import DataHooks, is_overridden
from trainer_core.seed import worker_init_function, workers_should_be_seeded

if TYPE_CHECKING:
    from trainer_core.trainer import Trainer

_HOOKS = {
    "train": ModuleHook.TRAIN_DATALOADER,
    "val": ModuleHook.VAL_DATALOADER,
    "test": ModuleHook.TEST_DATALOADER,
    "predict": ModuleHook.PREDICT_DATALOADER,
}


class DataSources:
    """Resolves and prepares the loaders of a run: explicit ones, else the datamodule's or the
    module's ``*_dataloader`` hook."""

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer
        self.explicit: dict[str, Any] = {}
        self.keys: dict[str, list[Any] | None] = {}  # a dict of loaders keeps its keys

    def use(self, explicit: dict[str, Any]) -> None:
        """The loaders passed to this ``fit``/``validate``/... call (None: ask the hooks)."""
        self.explicit = explicit
        self.keys = {}

    def is_defined(self, stage: str) -> bool:
        if self.explicit.get(stage) is not None:
            return True
        hook = _HOOKS[stage].value
        datamodule = self.trainer.datamodule
        if datamodule is not None:
            return is_overridden(hook, datamodule, DataHooks)
        return is_overridden(hook, self.trainer.lightning_module, DataHooks)

    def request(self, stage: str) -> list[Any]:
        """Ask the source (calling its ``*_dataloader`` hook) and prepare the loaders."""
        trainer = self.trainer
        loaders = self.explicit.get(stage)
        if loaders is None:
            hook = _HOOKS[stage]
            datamodule = trainer.datamodule
            if is_overridden(hook.value, datamodule, DataHooks):
                loaders = trainer._call_datamodule(hook.value)
            else:
                loaders = trainer._fire(hook)
        self.keys[stage] = list(loaders) if isinstance(loaders, dict) else None
        return [self._prepare(loader, stage) for loader in as_dataloader_list(loaders)]

    def explicit_train_structure(self, prepared: list[Any]) -> Any:
        """A dict of train loaders keeps its keys (batches become dicts); otherwise a list."""
        keys = self.keys.get("train")
        return dict(zip(keys, prepared, strict=True)) if keys is not None else prepared

    def _prepare(self, loader: Any, stage: str) -> Any:
        if self.trainer.args.overfit_batches > 0 and stage in ("train", "val"):
            loader = sequential_copy(loader)
        if workers_should_be_seeded() and getattr(loader, "worker_init_fn", 0) is None:
            loader.worker_init_fn = partial(worker_init_function, rank=0)
        if stage == "predict":  # the prediction writers' batch indices
            loader = with_index_tracking(loader)
        return loader

    def num_batches(self, stage: str, loaders: list[Any]) -> list[int | float]:
        """Batches to run per loader under ``limit_<stage>_batches``."""
        args = self.trainer.args
        limit = {
            "train": args.limit_train_batches,
            "val": args.limit_val_batches,
            "test": args.limit_test_batches,
            "predict": args.limit_predict_batches,
        }[stage]
        name = f"limit_{stage}_batches"
        counts = []
        for loader in loaders:
            length = dataloader_length(loader)
            counts.append(apply_limit(name, length, limit))
        return counts


def as_int(value: int | float) -> int | float:
    return value if math.isinf(value) else int(value)
