"""TensorBoardLogger: event files plus hparams.yaml, in Lightning's layout."""

from __future__ import annotations

import os
from typing import Any

import yaml

from trainer_core.loggers.base import VersionedDirLogger, add_prefix, flatten_params
from trainer_core.loggers.csv_logs import _yaml_safe


def tensorboard_available() -> bool:
    """Probe for the optional package (an import attempt is the only reliable check)."""
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        try:
            import tensorboardX  # noqa: F401
        except ImportError:
            return False
    return True


class TensorBoardLogger(VersionedDirLogger):
    """Writes ``<save_dir>/<name>/version_<N>/events.out.tfevents.*`` and ``hparams.yaml``."""

    NAME_HPARAMS_FILE = "hparams.yaml"
    LOGGER_JOIN_CHAR = "-"

    def __init__(
        self,
        save_dir: str | os.PathLike,
        name: str | None = "lightning_logs",
        version: int | str | None = None,
        log_graph: bool = False,
        default_hp_metric: bool = True,
        prefix: str = "",
        sub_dir: str | os.PathLike | None = None,
        **kwargs: Any,
    ) -> None:
        if not tensorboard_available():
            raise ModuleNotFoundError(
                "TensorBoardLogger needs `tensorboard`: pip install tensorboard, or use CSVLogger."
            )
        self._save_dir = os.fspath(save_dir)
        self._name = name or ""
        self._version = version
        self._log_graph = log_graph
        self._default_hp_metric = default_hp_metric
        self._prefix = prefix
        self._sub_dir = os.fspath(sub_dir) if sub_dir is not None else None
        self._kwargs = kwargs
        self.hparams: dict[str, Any] = {}
        self._hparams_dirty = True  # hparams.yaml needs (re)writing at the next save
        self._experiment: Any = None

    @property
    def log_dir(self) -> str:
        path = super().log_dir
        return os.path.join(path, self._sub_dir) if self._sub_dir else path

    @property
    def sub_dir(self) -> str | None:
        return self._sub_dir

    @property
    def experiment(self) -> Any:
        if self._experiment is None:
            # lazy: torch.utils.tensorboard needs the optional tensorboard package
            from torch.utils.tensorboard import SummaryWriter

            os.makedirs(self.log_dir, exist_ok=True)
            self._experiment = SummaryWriter(log_dir=self.log_dir, **self._kwargs)
        return self._experiment

    def log_hyperparams(self, params: Any, metrics: dict[str, float] | None = None) -> None:
        params = flatten_params(params)
        self.hparams.update(params)
        self._hparams_dirty = True
        if metrics is None and self._default_hp_metric:
            metrics = {"hp_metric": -1}
        if not params:
            return
        from torch.utils.tensorboard.summary import hparams  # lazy: optional package, as above

        simple = {
            k: v if isinstance(v, (int, float, str, bool)) else str(v) for k, v in params.items()
        }
        exp, ssi, sei = hparams(simple, metrics or {})
        writer = self.experiment._get_file_writer()
        for summary in (exp, ssi, sei):
            writer.add_summary(summary)
        if metrics:
            self.log_metrics(metrics, 0)

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        metrics = add_prefix(metrics, self._prefix, self.LOGGER_JOIN_CHAR)
        for key, value in metrics.items():
            if isinstance(value, dict):
                self.experiment.add_scalars(key, value, step)
            else:
                self.experiment.add_scalar(key, value, step)

    def log_graph(self, model: Any, input_array: Any = None) -> None:
        if not self._log_graph:
            return
        input_array = model.example_input_array if input_array is None else input_array
        if input_array is not None:
            self.experiment.add_graph(model, input_array)

    def save(self) -> None:
        log_dir = self.log_dir
        if os.path.isdir(log_dir) or self._experiment is not None:
            path = os.path.join(log_dir, self.NAME_HPARAMS_FILE)
            # save() runs after every logged row; hparams only change in log_hyperparams, so
            # the yaml is rewritten then, or when the file has gone missing (Lightning: only then)
            if self._hparams_dirty or not os.path.isfile(path):
                os.makedirs(log_dir, exist_ok=True)
                with open(path, "w") as handle:
                    yaml.safe_dump(_yaml_safe(self.hparams), handle)
                self._hparams_dirty = False
        if self._experiment is not None:
            self._experiment.flush()

    def finalize(self, status: str) -> None:
        if self._experiment is not None:
            self._experiment.flush()
            self._experiment.close()
        self.save()
