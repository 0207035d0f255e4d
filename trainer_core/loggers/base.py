"""Logger interface: what the trainer calls on every logger it has."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from argparse import Namespace
from collections.abc import Mapping
from typing import Any


class Logger(ABC):
    """Subclass and implement ``name``, ``version``, ``log_metrics`` and ``log_hyperparams``."""

    @property
    @abstractmethod
    def name(self) -> str | None: ...

    @property
    @abstractmethod
    def version(self) -> int | str | None: ...

    @property
    def root_dir(self) -> str | None:
        return None

    @property
    def log_dir(self) -> str | None:
        return None

    @property
    def save_dir(self) -> str | None:
        return None

    @property
    def group_separator(self) -> str:
        return "/"

    @abstractmethod
    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None: ...

    @abstractmethod
    def log_hyperparams(
        self, params: dict[str, Any] | Namespace, *args: Any, **kwargs: Any
    ) -> None: ...

    def log_graph(self, model: Any, input_array: Any = None) -> None: ...  # noqa: B027

    def save(self) -> None: ...  # noqa: B027

    def finalize(self, status: str) -> None:
        self.save()

    def after_save_checkpoint(self, checkpoint_callback: Any) -> None: ...  # noqa: B027


class VersionedDirLogger(Logger):
    """A logger writing to ``<save_dir>/<name>/version_<N>`` (or a string version verbatim)."""

    _save_dir: str
    _name: str
    _version: int | str | None

    @property
    def name(self) -> str:
        return self._name

    @property
    def version(self) -> int | str:
        if self._version is None:
            self._version = next_version(self.root_dir)
        return self._version

    @property
    def save_dir(self) -> str:
        return self._save_dir

    @property
    def root_dir(self) -> str:
        return os.path.join(self._save_dir, self._name)

    @property
    def log_dir(self) -> str:
        version = self.version if isinstance(self.version, str) else f"version_{self.version}"
        return os.path.join(self.root_dir, version)


def next_version(root_dir: str) -> int:
    """0 for a new directory, else 1 + the largest existing ``version_<digits>``."""
    if not os.path.isdir(root_dir):
        return 0
    versions = []
    for entry in os.listdir(root_dir):
        suffix = entry[len("version_") :]
        if (
            entry.startswith("version_")
            and suffix.isdigit()
            and os.path.isdir(os.path.join(root_dir, entry))
        ):
            versions.append(int(suffix))
    return max(versions) + 1 if versions else 0


def add_prefix(metrics: Mapping[str, Any], prefix: str, separator: str) -> dict[str, Any]:
    if not prefix:
        return dict(metrics)
    return {f"{prefix}{separator}{k}": v for k, v in metrics.items()}


def flatten_params(params: Any) -> dict[str, Any]:
    """hparams as a plain dict (Namespace / AttributeDict / dict)."""
    if isinstance(params, Namespace):
        return vars(params)
    return dict(params) if params is not None else {}


class DummyLogger(Logger):
    """Accepts everything, writes nothing (fast_dev_run)."""

    @property
    def name(self) -> str:
        return ""

    @property
    def version(self) -> str:
        return ""

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None: ...

    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None: ...
