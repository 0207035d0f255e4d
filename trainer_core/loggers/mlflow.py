"""MLFlowLogger: metrics, hyperparameters and (optionally) checkpoints in an MLflow run.

Needs the optional ``mlflow`` package (``pip install "trainyard[mlflow]"``). The tracking URI is
``tracking_uri``, else ``$MLFLOW_TRACKING_URI``, else ``file:<save_dir>`` (a local store);
``sqlite:///path.db`` and a tracking server work too. ``log_model`` follows Lightning: ``"all"``
logs each checkpoint as it is written, ``True`` logs them when training ends (or as written when
``save_top_k == -1``), each under ``<checkpoint stem>/`` with ``metadata.yaml`` and
``aliases.txt``.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path
from time import time
from typing import Any, Literal

import yaml
from torch import Tensor

from trainer_core.loggers.base import Logger, add_prefix, flatten_params

log = logging.getLogger(__name__)
LOCAL_FILE_URI_PREFIX = "file:"


def mlflow_available() -> bool:
    return importlib.util.find_spec("mlflow") is not None


def _flatten(params: Mapping[str, Any], parent: str = "", sep: str = "/") -> dict[str, Any]:
    """Nested dicts as ``a/b`` keys, as Lightning flattens hyperparameters."""
    flat: dict[str, Any] = {}
    for key, value in params.items():
        name = f"{parent}{sep}{key}" if parent else str(key)
        if isinstance(value, Mapping) and value:
            flat.update(_flatten(value, name, sep))
        else:
            flat[name] = value
    return flat


class MLFlowLogger(Logger):
    """Log to MLflow; ``logger.experiment`` is the ``MlflowClient``."""

    LOGGER_JOIN_CHAR = "-"

    def __init__(
        self,
        experiment_name: str = "lightning_logs",
        run_name: str | None = None,
        tracking_uri: str | None = os.getenv("MLFLOW_TRACKING_URI"),
        tags: dict[str, Any] | None = None,
        save_dir: str | None = "./mlruns",
        log_model: Literal[True, False, "all"] = False,
        prefix: str = "",
        artifact_location: str | None = None,
        run_id: str | None = None,
        synchronous: bool | None = None,
    ) -> None:
        if not mlflow_available():
            raise ModuleNotFoundError(
                "MLFlowLogger needs the `mlflow` package: pip install mlflow "
                '(or pip install "trainyard[mlflow]").'
            )
        from mlflow.tracking import MlflowClient

        self._experiment_name = experiment_name
        self._experiment_id: str | None = None
        self._tracking_uri = tracking_uri or f"{LOCAL_FILE_URI_PREFIX}{save_dir}"
        self._run_name = run_name
        self._run_id = run_id
        self.tags = tags
        self._log_model = log_model
        self._logged_model_time: dict[str, float] = {}
        self._checkpoint_callback: Any = None
        self._prefix = prefix
        self._artifact_location = artifact_location
        self._log_batch_kwargs = {} if synchronous is None else {"synchronous": synchronous}
        self._initialized = False
        self._mlflow_client = MlflowClient(self._tracking_uri)

    @property
    def experiment(self) -> Any:
        """The ``MlflowClient``; the experiment and run are created on first use."""
        if self._initialized:
            return self._mlflow_client
        import mlflow

        mlflow.set_tracking_uri(self._tracking_uri)
        client = self._mlflow_client
        if self._run_id is not None:
            self._experiment_id = client.get_run(self._run_id).info.experiment_id
            self._initialized = True
            return client
        if self._experiment_id is None:
            experiment = client.get_experiment_by_name(self._experiment_name)
            if experiment is not None and experiment.lifecycle_stage != "deleted":
                self._experiment_id = experiment.experiment_id
            else:
                log.warning(f"Experiment with name {self._experiment_name} not found. Creating it.")
                self._experiment_id = client.create_experiment(
                    name=self._experiment_name, artifact_location=self._artifact_location
                )
        self._run_id = client.create_run(
            experiment_id=self._experiment_id, tags=self._resolved_tags()
        ).info.run_id
        self._initialized = True
        return client

    def _resolved_tags(self) -> Any:
        from mlflow.tracking.context.registry import resolve_tags
        from mlflow.utils.mlflow_tags import MLFLOW_RUN_NAME

        if self._run_name is not None:
            self.tags = self.tags or {}
            if MLFLOW_RUN_NAME in self.tags:
                log.warning(
                    f"The tag {MLFLOW_RUN_NAME} is found in tags. The value will be overridden "
                    f"by {self._run_name}."
                )
            self.tags[MLFLOW_RUN_NAME] = self._run_name
        return resolve_tags(self.tags)

    @property
    def run_id(self) -> str | None:
        _ = self.experiment
        return self._run_id

    @property
    def experiment_id(self) -> str | None:
        _ = self.experiment
        return self._experiment_id

    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        """As MLflow params (values cut at 250 characters), 100 per request."""
        from mlflow.entities import Param

        flat = _flatten(flatten_params(params))
        items = [Param(key=k, value=str(v)[:250]) for k, v in flat.items()]
        for start in range(0, len(items), 100):
            self.experiment.log_batch(
                run_id=self.run_id, params=items[start : start + 100], **self._log_batch_kwargs
            )

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        """Numbers only; characters MLflow refuses in a name are dropped (with a warning)."""
        from mlflow.entities import Metric

        timestamp_ms = int(time() * 1000)
        batch = []
        for key, value in add_prefix(metrics, self._prefix, self.LOGGER_JOIN_CHAR).items():
            if isinstance(value, str):
                log.warning(f"Discarding metric with string value {key}={value}.")
                continue
            clean = re.sub("[^a-zA-Z0-9_/. -]+", "", key)
            if clean != key:
                warnings.warn(
                    "MLFlow only allows '_', '/', '.' and ' ' special characters in metric name. "
                    f"Replacing {key} with {clean}.",
                    RuntimeWarning,
                    stacklevel=2,
                )
            value = value.item() if isinstance(value, Tensor) else value
            batch.append(Metric(key=clean, value=value, timestamp=timestamp_ms, step=step or 0))
        self.experiment.log_batch(run_id=self.run_id, metrics=batch, **self._log_batch_kwargs)

    def finalize(self, status: str = "success") -> None:
        """Log pending checkpoints (``log_model=True``) and end the run FINISHED or FAILED."""
        if not self._initialized:
            return
        status = "FAILED" if status == "failed" else "FINISHED"
        if self._checkpoint_callback:
            self._scan_and_log_checkpoints(self._checkpoint_callback)
        if self.experiment.get_run(self.run_id):
            self.experiment.set_terminated(self.run_id, status)

    @property
    def save_dir(self) -> str | None:
        """The local store's directory (``file:`` URIs), else None."""
        if self._tracking_uri.startswith(LOCAL_FILE_URI_PREFIX):
            return self._tracking_uri[len(LOCAL_FILE_URI_PREFIX) :]
        return None

    @property
    def name(self) -> str | None:
        return self.experiment_id

    @property
    def version(self) -> str | None:
        return self.run_id

    def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
        if self._log_model == "all" or (
            self._log_model is True and checkpoint_callback.save_top_k == -1
        ):
            self._scan_and_log_checkpoints(checkpoint_callback)
        elif self._log_model is True:
            self._checkpoint_callback = checkpoint_callback

    def _scan_and_log_checkpoints(self, checkpoint_callback: Any) -> None:
        for mtime, path, score, _ in _scan_checkpoints(
            checkpoint_callback, self._logged_model_time
        ):
            artifact_path = Path(path).stem
            aliases = (
                ["latest", "best"] if path == checkpoint_callback.best_model_path else ["latest"]
            )
            self.experiment.log_artifact(self._run_id, path, artifact_path)
            with tempfile.TemporaryDirectory() as tmp_dir:
                with open(f"{tmp_dir}/metadata.yaml", "w") as f:
                    yaml.dump(
                        _checkpoint_metadata(checkpoint_callback, path, score),
                        f,
                        default_flow_style=False,
                    )
                with open(f"{tmp_dir}/aliases.txt", "w") as f:
                    f.write(str(aliases))
                self.experiment.log_artifacts(self._run_id, tmp_dir, artifact_path)
            # the time too: a checkpoint rewritten under the same name is logged again
            self._logged_model_time[path] = mtime


def _checkpoint_metadata(checkpoint_callback: Any, path: str, score: Any) -> dict[str, Any]:
    keys = ["monitor", "mode", "save_last", "save_top_k", "save_weights_only",
            "_every_n_train_steps", "_every_n_val_epochs"]  # fmt: skip
    return {
        "score": score.item() if isinstance(score, Tensor) else score,
        "original_filename": Path(path).name,
        "Checkpoint": {
            k: getattr(checkpoint_callback, k) for k in keys if hasattr(checkpoint_callback, k)
        },
    }


def _scan_checkpoints(
    checkpoint_callback: Any, logged_model_time: dict[str, float]
) -> list[tuple[float, str, Any, str]]:
    """The callback's last, best and top-k files not logged yet (or rewritten since)."""
    found: dict[str, tuple[Any, str]] = {}
    if hasattr(checkpoint_callback, "last_model_path") and hasattr(
        checkpoint_callback, "current_score"
    ):
        found[checkpoint_callback.last_model_path] = (checkpoint_callback.current_score, "latest")
    if hasattr(checkpoint_callback, "best_model_path") and hasattr(
        checkpoint_callback, "best_model_score"
    ):
        found[checkpoint_callback.best_model_path] = (checkpoint_callback.best_model_score, "best")
    for path, score in getattr(checkpoint_callback, "best_k_models", {}).items():
        found[path] = (score, "best_k")
    candidates = sorted(
        (Path(p).stat().st_mtime, p, s, tag) for p, (s, tag) in found.items() if Path(p).is_file()
    )
    return [
        c for c in candidates if c[1] not in logged_model_time or logged_model_time[c[1]] < c[0]
    ]
