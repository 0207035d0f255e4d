"""Built-in callbacks."""

from trainer_core.callbacks.base import Callback
from trainer_core.callbacks.early_stopping import EarlyStopping
from trainer_core.callbacks.model_checkpoint import ModelCheckpoint

__all__ = ["Callback", "EarlyStopping", "ModelCheckpoint"]
