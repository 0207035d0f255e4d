"""Turn a validated job spec into a module, a datamodule, callbacks and a Trainer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import trainer_core as L
from api.settings import Settings
from catalog.registry import get_registry
from trainer_core.callbacks import EarlyStopping, ModelCheckpoint
from trainyard.schemas.jobs import JobSpec

# Options the service decides, whatever the spec says: no terminal UI inside a worker.
FIXED_TRAINER_OPTIONS: dict[str, Any] = {
    "enable_progress_bar": False,
    "enable_model_summary": False,
}


def build_components(spec: JobSpec, settings: Settings) -> tuple[Any, Any]:
    """The module and datamodule the spec names, built from the registry (user code runs here)."""
    registry = get_registry(settings)
    module = registry.get("module", spec.module.name).build(spec.module.params)
    datamodule = registry.get("datamodule", spec.datamodule.name).build(spec.datamodule.params)
    return module, datamodule


def build_spec_callbacks(spec: JobSpec, settings: Settings) -> list[Any]:
    """The spec's `callbacks`, built from the registry (the API checked names and params)."""
    registry = get_registry(settings)
    return [registry.get("callback", ref.name).build(ref.params) for ref in spec.callbacks]


def make_model_checkpoint(spec: JobSpec, dirpath: Path) -> ModelCheckpoint:
    """The spec's checkpoint policy; a last.ckpt is kept unless the spec turns it off.

    (A last checkpoint is what cancellation and a resumed attempt start from.)
    """
    options = spec.checkpoint.model_dump(exclude_none=True) if spec.checkpoint else {}
    options.setdefault("save_last", True)
    return ModelCheckpoint(dirpath=str(dirpath), **options)


def make_early_stopping(spec: JobSpec) -> EarlyStopping | None:
    if spec.early_stopping is None or not spec.early_stopping.monitor:
        return None
    return EarlyStopping(**spec.early_stopping.model_dump(exclude_none=True))


def trainer_options(spec: JobSpec) -> dict[str, Any]:
    """The spec's trainer options (the API allow-listed them), unset ones left to the trainer."""
    return {**spec.trainer.model_dump(exclude_none=True), **FIXED_TRAINER_OPTIONS}


def make_trainer(spec: JobSpec, *, root_dir: Path, callbacks: list[Any], logger: Any) -> L.Trainer:
    return L.Trainer(
        **trainer_options(spec),
        default_root_dir=str(root_dir),
        callbacks=callbacks,
        logger=logger,
    )
