"""Loggers: CSV (always available), TensorBoard and MLflow (when their packages are installed).

WandbLogger and CometLogger exist so Lightning code imports; building one says what is missing.
"""

from trainer_core.loggers.base import DummyLogger, Logger
from trainer_core.loggers.comet import CometLogger
from trainer_core.loggers.csv_logs import CSVLogger
from trainer_core.loggers.mlflow import MLFlowLogger
from trainer_core.loggers.tensorboard import TensorBoardLogger
from trainer_core.loggers.wandb import WandbLogger

__all__ = [
    "CSVLogger",
    "CometLogger",
    "DummyLogger",
    "Logger",
    "MLFlowLogger",
    "TensorBoardLogger",
    "WandbLogger",
]
