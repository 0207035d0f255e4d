"""CometLogger: importable always; using it needs the optional ``comet_ml`` package."""

from __future__ import annotations

import importlib.util
from typing import Any

from trainer_core.loggers.base import Logger

INSTALL_HINT = (
    "CometLogger needs the `comet_ml` package, which is not installed: pip install comet-ml. "
    "The loggers trainer_core supports: CSVLogger, TensorBoardLogger (needs tensorboard), "
    "MLFlowLogger (needs mlflow)."
)


class CometLogger(Logger):
    """Lightning's CometLogger name, so code that imports it runs up to where it is built.

    Building one without ``comet_ml`` installed raises ``ModuleNotFoundError`` saying what to
    install. With ``comet_ml`` installed it still raises: trainer_core does not talk to Comet
    (use Lightning itself, or MLFlowLogger / CSVLogger / TensorBoardLogger).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if importlib.util.find_spec("comet_ml") is None:
            raise ModuleNotFoundError(INSTALL_HINT)
        raise NotImplementedError(
            "trainer_core has no Comet integration: log with MLFlowLogger, CSVLogger "
            "or TensorBoardLogger, or run this script with Lightning."
        )

    @property
    def name(self) -> str | None:
        return None

    @property
    def version(self) -> str | None:
        return None

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None: ...

    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None: ...
