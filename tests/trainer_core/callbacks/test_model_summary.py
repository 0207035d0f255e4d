"""ModelSummary and RichModelSummary print the very table Lightning prints (layers, parameter
counts, modes, FLOPs, in/out sizes, the footer)."""

from __future__ import annotations

import functools
import io
import logging
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import rich
import torch

from tests.trainer_core.conftest import requires_lightning
from tests.trainer_core.doubles import RandomDataset
from tests.trainer_core.harness import sub
from trainer_core.utilities.model_summary import get_human_readable_count


@functools.cache
def make_summarized_model(L: ModuleType, example: bool) -> type:
    class Summarized(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = torch.nn.Sequential(
                torch.nn.Linear(32, 64), torch.nn.BatchNorm1d(64), torch.nn.Linear(64, 2)
            )
            self.frozen = torch.nn.Linear(2, 2).eval()
            self.frozen.requires_grad_(False)
            self.scale = torch.nn.Parameter(torch.ones(3))  # "other params"
            if example:
                self.example_input_array = torch.zeros(4, 32)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.net(x)

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            return self(batch).sum()

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=0.1)

    return Summarized


def printed_summary(
    L: ModuleType, root: Path, capsys: pytest.CaptureFixture, rich_table: bool, **options: Any
) -> str:
    """What a 1-batch fit prints for its summary (Lightning logs the plain one at INFO)."""
    callbacks = sub(L, "callbacks")
    summary = (callbacks.RichModelSummary if rich_table else callbacks.ModelSummary)(**options)
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    lightning_log = logging.getLogger("lightning.pytorch.callbacks.model_summary")
    lightning_log.addHandler(handler)
    lightning_log.setLevel(logging.INFO)
    rich.reconfigure(file=out, width=140, color_system=None)
    capsys.readouterr()
    try:
        trainer = L.Trainer(
            default_root_dir=root, logger=False, enable_progress_bar=False, max_steps=1,
            enable_checkpointing=False, callbacks=[summary],
        )  # fmt: skip
        loader = torch.utils.data.DataLoader(RandomDataset(32, 8), batch_size=4)
        trainer.fit(make_summarized_model(L, "max_depth" in options)(), loader)
    finally:
        lightning_log.removeHandler(handler)
        rich.reconfigure()
    return (out.getvalue() + capsys.readouterr().out).strip()


@requires_lightning
@pytest.mark.parametrize("rich_table", [False, True])
@pytest.mark.parametrize("options", [{}, {"max_depth": -1}])
def test_summary_prints_like_lightning(
    L: ModuleType, ref_L: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture,
    rich_table: bool, options: dict,
) -> None:  # fmt: skip
    reference = printed_summary(ref_L, tmp_path / "ref", capsys, rich_table, **options)
    candidate = printed_summary(L, tmp_path / "cand", capsys, rich_table, **options)
    assert candidate == reference
    assert "1         Modules in eval mode" in candidate or "Modules in eval mode: 1" in candidate
    if not options:  # depth 1: the module's own parameter gets the "other params" row
        assert "other params" in candidate


def test_human_readable_counts() -> None:
    assert [get_human_readable_count(n) for n in (0, 123, 1234, 2e6, 3e9, 4e14, 5e15)] == [
        "0  ", "123  ", "1.2 K", "2.0 M", "3.0 B", "400 T", "5,000 T",
    ]  # fmt: skip
