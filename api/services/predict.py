"""Predictions from a job's checkpoint: load once through `load_from_checkpoint`, cache, run.

torch is imported here lazily, so importing the API does not pay for it.
"""

from __future__ import annotations

import math
import shutil
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from api.artifacts import ArtifactStore
from api.db.models import Checkpoint
from api.errors import AppError, ErrorCode


class ModelCache:
    """A small LRU of loaded models keyed by (checkpoint id, sha256); one load per key at once."""

    def __init__(self, max_models: int = 4) -> None:
        self.max_models = max_models
        self._models: OrderedDict[tuple[str, str], Any] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[tuple[str, str], threading.Lock] = {}

    def get(self, key: tuple[str, str], load: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key]
            key_lock = self._loading.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                if key in self._models:
                    return self._models[key]
            model = load()
            with self._lock:
                self._models[key] = model
                self._loading.pop(key, None)
                while len(self._models) > self.max_models:
                    self._models.popitem(last=False)
            return model

    def __len__(self) -> int:
        return len(self._models)


def load_model(module_cls: type, store: ArtifactStore, checkpoint: Checkpoint) -> Any:
    """Load `module_cls` from the checkpoint file (copied locally first for remote stores)."""
    local = store.local_path(checkpoint.storage_key)
    try:
        if local is not None:
            return _load(module_cls, local)
        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / "model.ckpt"
            with store.open(checkpoint.storage_key) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
            return _load(module_cls, target)
    except FileNotFoundError:
        raise AppError(
            ErrorCode.checkpoint_not_found,
            f"the file of checkpoint {checkpoint.id} is missing from the artifact store",
        ) from None


def _load(module_cls: type, path: Path) -> Any:
    try:
        model = module_cls.load_from_checkpoint(str(path), map_location="cpu")  # type: ignore[attr-defined]
    except FileNotFoundError:
        raise
    except Exception as exc:
        raise AppError(
            ErrorCode.predict_failed, f"could not load checkpoint: {type(exc).__name__}: {exc}"
        ) from None
    model.eval()
    return model


def to_tensor(inputs: list[Any]) -> Any:
    import torch

    try:
        return torch.tensor(inputs, dtype=torch.float32)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise AppError(
            ErrorCode.validation_error,
            f"inputs: must be a rectangular nested list of numbers ({exc})",
            errors=[{"field": "inputs", "message": "must be a rectangular nested list of numbers"}],
        ) from None


def run_predict(model: Any, inputs: list[Any]) -> Any:
    """`predict_step` on one batch made of `inputs`; outputs as JSON-ready nested lists."""
    import torch

    batch = to_tensor(inputs)
    try:
        with torch.inference_mode():
            outputs = model.predict_step(batch, 0)
    except Exception as exc:
        raise AppError(
            ErrorCode.predict_failed, f"predict_step raised {type(exc).__name__}: {exc}"
        ) from None
    return to_jsonable(outputs)


def to_jsonable(value: Any) -> Any:
    """Tensors and arrays to nested lists; NaN and infinities to null (JSON has neither)."""
    import torch

    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        value = value.float() if value.is_floating_point() else value
        return to_jsonable(value.tolist())
    if hasattr(value, "tolist") and not isinstance(value, list | tuple | dict):
        return to_jsonable(value.tolist())
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, bool | int | str):
        return value
    raise AppError(
        ErrorCode.predict_failed,
        f"predict_step returned a {type(value).__name__}, which cannot be sent as JSON",
    )
