"""Accelerator and device selection."""

from __future__ import annotations

import pytest
import torch

import trainer_core as L
from tests.trainer_core.doubles import make_tiny_module
from trainer_core.utilities.exceptions import MisconfigurationException

TinyModule = make_tiny_module(L)


def test_accelerator_auto_picks_cpu_here_and_unknown_values_are_refused() -> None:
    trainer = L.Trainer(logger=False, enable_checkpointing=False)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert trainer.device.type == expected
    with pytest.raises(MisconfigurationException, match="accelerator"):
        L.Trainer(accelerator="tpu")
    with pytest.raises(MisconfigurationException, match="precision"):
        L.Trainer(precision="8-bit")
