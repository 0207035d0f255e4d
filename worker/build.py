"""Turn a stored job spec into a module, a datamodule, callbacks and a Trainer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import trainer_core as L
from api.settings import Settings
from catalog.registry import get_registry
from trainer_core.callbacks import EarlyStopping, ModelCheckpoint

# Options the service decides, whatever the spec says: no terminal UI inside a worker.
FIXED_TRAINER_OPTIONS: dict[str, Any] = {
    "enable_progress_bar": False,
    "enable_model_summary": False,
}


def build_components(spec: dict[str, Any], settings: Settings) -> tuple[Any, Any]:
    """The module and datamodule the spec names, built from the registry (user code runs here)."""
    registry = get_registry(settings)
    module = registry.get("module", spec["module"]["name"]).build(spec["module"].get("params"))
    datamodule = registry.get("datamodule", spec["datamodule"]["name"]).build(
        spec["datamodule"].get("params")
    )
    return module, datamodule


def make_model_checkpoint(spec: dict[str, Any], dirpath: Path) -> ModelCheckpoint:
    """The spec's checkpoint policy; a last.ckpt is kept unless the spec turns it off.

    (A last checkpoint is what cancellation and a resumed attempt start from.)
    """
    options = {k: v for k, v in (spec.get("checkpoint") or {}).items() if v is not None}
    options.setdefault("save_last", True)
    return ModelCheckpoint(dirpath=str(dirpath), **options)


def make_early_stopping(spec: dict[str, Any]) -> EarlyStopping | None:
    options = {k: v for k, v in (spec.get("early_stopping") or {}).items() if v is not None}
    return EarlyStopping(**options) if options.get("monitor") else None


def trainer_options(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec's trainer options (the API allow-listed them), unset ones left to the trainer."""
    options = {k: v for k, v in (spec.get("trainer") or {}).items() if v is not None}
    return {**options, **FIXED_TRAINER_OPTIONS}


def make_trainer(
    spec: dict[str, Any], *, root_dir: Path, callbacks: list[Any], logger: Any
) -> L.Trainer:
    return L.Trainer(
        **trainer_options(spec),
        default_root_dir=str(root_dir),
        callbacks=callbacks,
        logger=logger,
    )
