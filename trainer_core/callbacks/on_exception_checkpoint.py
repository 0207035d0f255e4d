"""OnExceptionCheckpoint: save a checkpoint when a run fails; removed again when it ends well."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from trainer_core.callbacks.model_checkpoint import Checkpoint

if TYPE_CHECKING:
    from trainer_core.trainer import Trainer


class OnExceptionCheckpoint(Checkpoint):
    """Writes ``<dirpath>/<filename>.ckpt`` from ``on_exception`` (an error, a KeyboardInterrupt);
    ``teardown`` deletes it, so after a run that ended normally no such file is left."""

    FILE_EXTENSION = ".ckpt"

    def __init__(self, dirpath: str | os.PathLike, filename: str = "on_exception") -> None:
        super().__init__()
        if not filename:
            raise ValueError("The filename cannot be empty")
        # set now, not in setup: the exception may come before any hook ran
        self.dirpath = dirpath
        self.filename = filename

    @property
    def ckpt_path(self) -> str:
        return os.path.join(self.dirpath, self.filename + self.FILE_EXTENSION)

    def on_exception(self, trainer: Trainer, *_: Any, **__: Any) -> None:
        trainer.save_checkpoint(self.ckpt_path)  # overwrites an older one

    def teardown(self, trainer: Trainer, *_: Any, **__: Any) -> None:
        if os.path.exists(self.ckpt_path):
            os.remove(self.ckpt_path)
