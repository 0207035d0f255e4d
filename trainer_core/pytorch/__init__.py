"""``import trainer_core.pytorch as pl``: trainer_core under ``lightning.pytorch``'s module paths.

Code written as ``import lightning.pytorch as pl``, ``from lightning.pytorch.callbacks import
ModelCheckpoint`` or a config naming ``lightning.pytorch.loggers.csv_logs.CSVLogger`` runs after
changing only the top-level name (``lightning`` -> ``trainer_core``).

Every ``trainer_core.pytorch.<path>`` module *is* the trainer_core module of that path (the same
object, found by the import hook below), so classes are never loaded twice and ``isinstance``
holds across both spellings. The paths Lightning users name are the same in trainer_core
(``callbacks.lr_monitor``, ``loggers.csv_logs``, ``trainer.Trainer``...); a few of Lightning's
deeper packages (``core``, ``callbacks.progress.rich_progress``) have no counterpart.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any

from trainer_core import __version__, callbacks, loggers, profilers, tuner, utilities
from trainer_core.callbacks import Callback
from trainer_core.datamodule import LightningDataModule
from trainer_core.module import LightningModule
from trainer_core.seed import seed_everything
from trainer_core.trainer import Trainer

_PREFIX = __name__ + "."


def _target(fullname: str) -> str:
    return "trainer_core." + fullname[len(_PREFIX) :]


class _SameModule(importlib.abc.Loader):
    """Loads ``trainer_core.pytorch.x`` as the already imported ``trainer_core.x`` itself."""

    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec: ModuleSpec) -> ModuleType:
        return importlib.import_module(self.target)

    def exec_module(self, module: ModuleType) -> None:
        pass  # it ran when trainer_core imported it


class _AliasFinder(importlib.abc.MetaPathFinder):
    """Claims every name under ``trainer_core.pytorch.`` before the path finder could load a
    second copy of the file from the aliased package's directory."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> ModuleSpec | None:
        if not fullname.startswith(_PREFIX):
            return None
        real = _target(fullname)
        try:
            if importlib.util.find_spec(real) is None:
                return None
        except ModuleNotFoundError:
            return None
        return importlib.util.spec_from_loader(fullname, _SameModule(real))


if not any(isinstance(finder, _AliasFinder) for finder in sys.meta_path):
    sys.meta_path.insert(0, _AliasFinder())


def __getattr__(name: str) -> ModuleType:
    """``pl.trainer``, ``pl.loggers.csv_logs``...: the submodule, imported on first use."""
    try:
        return importlib.import_module(_PREFIX + name)
    except ModuleNotFoundError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None


__all__ = [
    "Callback",
    "LightningDataModule",
    "LightningModule",
    "Trainer",
    "__version__",
    "callbacks",
    "loggers",
    "profilers",
    "seed_everything",
    "tuner",
    "utilities",
]
