"""Loggers whose package is optional import always and say what to install when it is missing."""

from __future__ import annotations

import importlib.util
import sys

import pytest

import trainer_core as L
from trainer_core.loggers import CometLogger, MLFlowLogger, WandbLogger


@pytest.mark.parametrize(
    ("logger", "module", "install"),
    [
        (WandbLogger, "wandb", "pip install wandb"),
        (CometLogger, "comet_ml", "pip install comet-ml"),
        (MLFlowLogger, "mlflow", "pip install mlflow"),
    ],
)
def test_a_missing_package_is_named_with_its_install_command(
    monkeypatch: pytest.MonkeyPatch, logger: type, module: str, install: str
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # as if it were not installed
    with pytest.raises(ModuleNotFoundError, match=install):
        logger(project="demo") if logger is not MLFlowLogger else logger()


def test_lightning_style_imports_work_without_the_packages() -> None:
    # a script written for Lightning gets as far as building the logger
    assert L.loggers.WandbLogger is WandbLogger and L.loggers.CometLogger is CometLogger
    assert issubclass(WandbLogger, L.loggers.Logger)


@pytest.mark.skipif(
    importlib.util.find_spec("wandb") is not None,
    reason="wandb is installed here",
)
def test_in_this_environment_wandb_is_really_missing() -> None:
    with pytest.raises(ModuleNotFoundError, match="WandbLogger needs the `wandb` package"):
        WandbLogger()
