"""trainer_core: a Lightning-compatible, hook-based trainer.

``import trainer_core as L`` runs code written for ``import lightning as L``.
"""

from trainer_core import callbacks, loggers, profilers, tuner
from trainer_core.callbacks import Callback
from trainer_core.datamodule import LightningDataModule
from trainer_core.module import LightningModule
from trainer_core.seed import seed_everything
from trainer_core.trainer import Trainer
from trainer_core.utilities.exceptions import MisconfigurationException

__version__ = "2.6.2"

__all__ = [
    "Callback",
    "LightningDataModule",
    "LightningModule",
    "MisconfigurationException",
    "Trainer",
    "callbacks",
    "loggers",
    "profilers",
    "seed_everything",
    "tuner",
]
