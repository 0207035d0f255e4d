"""Loggers: CSV (always available) and TensorBoard (when tensorboard is installed)."""

from trainer_core.loggers.base import DummyLogger, Logger
from trainer_core.loggers.csv_logs import CSVLogger
from trainer_core.loggers.tensorboard import TensorBoardLogger

__all__ = ["CSVLogger", "DummyLogger", "Logger", "TensorBoardLogger"]
