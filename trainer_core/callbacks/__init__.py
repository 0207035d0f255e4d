"""Built-in callbacks."""

from trainer_core.callbacks.base import Callback
from trainer_core.callbacks.early_stopping import EarlyStopping, EarlyStoppingReason
from trainer_core.callbacks.model_checkpoint import Checkpoint, ModelCheckpoint
from trainer_core.callbacks.model_summary import ModelSummary
from trainer_core.callbacks.progress import ProgressBar, TQDMProgressBar

__all__ = [
    "Callback",
    "Checkpoint",
    "EarlyStopping",
    "EarlyStoppingReason",
    "ModelCheckpoint",
    "ModelSummary",
    "ProgressBar",
    "TQDMProgressBar",
]
