"""ModelSummary: a small table of the module's direct children at fit start."""

from __future__ import annotations

from typing import TYPE_CHECKING

from trainer_core.callbacks.base import Callback

if TYPE_CHECKING:
    from torch import nn

    from trainer_core.module import LightningModule
    from trainer_core.trainer import Trainer


def _count(module: nn.Module, trainable_only: bool = False) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad or not trainable_only)


def _human(count: int) -> str:
    for unit, size in (("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return str(count)


def summarize(model: nn.Module, max_depth: int = 1) -> str:
    """Rows of name / type / params / mode for the children up to ``max_depth``."""
    rows = [("", "Name", "Type", "Params", "Mode")]
    for index, (name, child) in enumerate(
        (n, m) for n, m in model.named_modules() if n and n.count(".") < max_depth
    ):
        mode = "train" if child.training else "eval"
        rows.append((str(index), name, type(child).__name__, _human(_count(child)), mode))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = [" | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    lines.insert(1, "-" * len(lines[0]))
    total, trainable = _count(model), _count(model, trainable_only=True)
    lines += [
        "-" * len(lines[0]),
        f"{_human(trainable):<10}Trainable params",
        f"{_human(total - trainable):<10}Non-trainable params",
        f"{_human(total):<10}Total params",
    ]
    return "\n".join(lines)


class ModelSummary(Callback):
    """Print the summary table when fit starts (``enable_model_summary=False`` turns it off)."""

    def __init__(self, max_depth: int = 1) -> None:
        self._max_depth = max_depth

    def on_fit_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self._max_depth and not trainer.fast_dev_run:
            print(summarize(pl_module, self._max_depth))
