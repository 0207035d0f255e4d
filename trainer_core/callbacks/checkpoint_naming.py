"""Checkpoint file names, the default checkpoint directory, and replacing old files."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from trainer_core.trainer import Trainer

JOIN_CHAR = "-"
EQUALS_CHAR = "="


def format_name(
    filename: str | None, metrics: dict[str, Any], prefix: str, auto_insert: bool
) -> str:
    """``{epoch}-{step}`` -> ``epoch=0-step=5``; format specs are kept, missing metrics are 0."""
    if not filename:
        filename = "{epoch}" + JOIN_CHAR + "{step}"
    groups = sorted(re.findall(r"(\{.*?)[:\}]", filename), key=len, reverse=True)
    for group in groups:
        name = group[1:]
        if auto_insert:
            filename = filename.replace(group, name + EQUALS_CHAR + "{" + name)
        filename = filename.replace(group, f"{{0[{name}]")  # keys may contain dots
        metrics.setdefault(name, torch.tensor(0))
    filename = filename.format(metrics)
    return JOIN_CHAR.join([prefix, filename]) if prefix else filename


def default_dirpath(trainer: Trainer) -> str:
    """<save_dir>/<name>/<version>/checkpoints of the first logger, else <root>/checkpoints."""
    if trainer.loggers:
        first = trainer.loggers[0]
        save_dir = first.save_dir if first.save_dir is not None else trainer.default_root_dir
        version = first.version if isinstance(first.version, str) else f"version_{first.version}"
        return os.path.join(save_dir, str(first.name), version, "checkpoints")
    return os.path.join(trainer.default_root_dir, "checkpoints")


def remove_replaced(previous: str, current: str, dirpath: str | None, resumed_from: Any) -> None:
    """Remove a superseded checkpoint: only inside ``dirpath``, never the resumed-from file."""
    if previous == current:
        return
    previous_path = Path(previous).absolute()
    if resumed_from is not None and previous_path == Path(resumed_from).absolute():
        return
    if Path(dirpath or "").absolute() in previous_path.parents and os.path.lexists(previous):
        os.remove(previous)
