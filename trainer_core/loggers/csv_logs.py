"""CSVLogger: ``metrics.csv`` and ``hparams.yaml`` in Lightning's directory layout."""

from __future__ import annotations

import csv
import os
import stat
import warnings
from typing import Any, TextIO

import yaml

from trainer_core.loggers.base import VersionedDirLogger, add_prefix, flatten_params


class _ExperimentWriter:
    """Buffers metric rows and writes them; a new column rewrites the file with a new header.

    The trainer calls ``save()`` after every row (as Lightning does), so the append handle and its
    ``DictWriter`` are kept open between saves and flushed each time: readers see the same bytes
    at the same moments as with an open/append/close per save, for a fraction of the syscalls.
    """

    NAME_METRICS_FILE = "metrics.csv"
    NAME_HPARAMS_FILE = "hparams.yaml"

    def __init__(self, log_dir: str) -> None:
        self.log_dir = log_dir
        self.hparams: dict[str, Any] = {}
        self.metrics: list[dict[str, Any]] = []
        self.metrics_keys: list[str] = []
        self.metrics_file_path = os.path.join(log_dir, self.NAME_METRICS_FILE)
        self._handle: TextIO | None = None
        self._writer: csv.DictWriter | None = None
        self._file_id: tuple[int, int] = (0, 0)  # (st_dev, st_ino) of the open handle's file
        if os.path.exists(self.metrics_file_path):
            warnings.warn(
                f"Experiment logs directory {log_dir} exists and is not empty. Previous log files "
                "in this directory will be deleted when the new ones are saved!",
                stacklevel=3,
            )
            os.remove(self.metrics_file_path)
        os.makedirs(log_dir, exist_ok=True)

    def log_hparams(self, params: dict[str, Any]) -> None:
        """Record hparams and write hparams.yaml now (as Lightning does), not on every save."""
        self.hparams.update(params)
        if self.hparams:
            with open(os.path.join(self.log_dir, self.NAME_HPARAMS_FILE), "w") as handle:
                yaml.safe_dump(_yaml_safe(self.hparams), handle)

    def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
        row = dict(metrics)
        row["step"] = len(self.metrics) if step is None else step
        self.metrics.append(row)

    def save(self) -> None:
        if not self.metrics:
            return
        known = self.metrics_keys
        new_keys = sorted({k for row in self.metrics for k in row}.difference(known))
        exists = self._file_exists()
        if new_keys:
            self.metrics_keys = sorted(known + new_keys)
            self.close()
            if exists:
                self._rewrite_with_new_header()
        writer = self._writer if self._writer is not None else self._open(write_header=not exists)
        writer.writerows(self.metrics)
        self._handle.flush()  # type: ignore[union-attr]
        self.metrics = []

    def _file_exists(self) -> bool:
        """``os.path.isfile``; an open handle to a file deleted or replaced since is dropped."""
        try:
            info = os.stat(self.metrics_file_path)
        except OSError:
            self.close()
            return False
        if self._handle is not None and (info.st_dev, info.st_ino) != self._file_id:
            self.close()
        return stat.S_ISREG(info.st_mode)

    def _open(self, write_header: bool) -> csv.DictWriter:
        # "a" even for a new file: O_APPEND keeps each write at the end, as a reopen would
        handle = self._handle = open(self.metrics_file_path, "a", newline="")
        info = os.fstat(handle.fileno())
        self._file_id = (info.st_dev, info.st_ino)
        writer = self._writer = csv.DictWriter(handle, fieldnames=self.metrics_keys)
        if write_header:
            writer.writeheader()
        return writer

    def close(self) -> None:
        """Close the append handle (finalize); a later save reopens it."""
        handle, self._handle, self._writer = self._handle, None, None
        if handle is not None:
            handle.close()

    def __del__(self) -> None:
        if getattr(self, "_handle", None) is not None:
            self.close()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()  # an open file can't be pickled or deep-copied
        state["_handle"] = state["_writer"] = None
        return state

    def _rewrite_with_new_header(self) -> None:
        with open(self.metrics_file_path, newline="") as handle:
            rows = list(csv.DictReader(handle))
        with open(self.metrics_file_path, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=self.metrics_keys)
            writer.writeheader()
            writer.writerows(rows)


def _yaml_safe(params: dict[str, Any]) -> dict[str, Any]:
    """Values yaml can write; anything else becomes its repr (as Lightning does).

    Written with ``safe_dump`` (a tuple becomes a list, where Lightning writes a python/tuple
    tag), so ``yaml.safe_load`` reads every hparams.yaml back without running constructors."""
    safe: dict[str, Any] = {}
    for key, value in params.items():
        try:
            yaml.safe_dump(value)
            safe[key] = value
        except yaml.YAMLError:
            safe[key] = repr(value)
    return safe


class CSVLogger(VersionedDirLogger):
    """Writes ``<save_dir>/<name>/version_<N>/metrics.csv`` (+ hparams.yaml when hparams exist)."""

    LOGGER_JOIN_CHAR = "-"

    def __init__(
        self,
        save_dir: str | os.PathLike,
        name: str | None = "lightning_logs",
        version: int | str | None = None,
        prefix: str = "",
        flush_logs_every_n_steps: int = 100,
    ) -> None:
        self._save_dir = os.fspath(save_dir)
        self._name = name or ""
        self._version = version
        self._prefix = prefix
        self._flush_every = flush_logs_every_n_steps
        self._experiment: _ExperimentWriter | None = None

    @property
    def experiment(self) -> _ExperimentWriter:
        if self._experiment is None:
            self._experiment = _ExperimentWriter(self.log_dir)
        return self._experiment

    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        self.experiment.log_hparams(flatten_params(params))

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        metrics = add_prefix(metrics, self._prefix, self.LOGGER_JOIN_CHAR)
        self.experiment.log_metrics(metrics, step)
        if step is not None and (step + 1) % self._flush_every == 0:
            self.save()

    def save(self) -> None:
        if self._experiment is not None:
            self._experiment.save()

    def finalize(self, status: str) -> None:
        if self._experiment is not None:
            self.save()
            self._experiment.close()
