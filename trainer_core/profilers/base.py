"""The ``Profiler`` interface and ``PassThroughProfiler``, the trainer's default.

A profiler times named *actions* (``start(name)`` / ``stop(name)``). The trainer names its
actions as Lightning does (``run_training_epoch``, ``[Callback]<state_key>.<hook>``, ...; see
``actions.py``). ``describe()`` writes the report: to ``<dirpath>/<stage>-<filename>.txt`` when a
filename is set, else to the ``trainer_core.profilers`` logger at INFO.
"""

from __future__ import annotations

import logging
import os
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

log = logging.getLogger("trainer_core.profilers")


class Profiler(ABC):
    """Subclass and implement ``start`` and ``stop`` (and ``summary`` for a report)."""

    def __init__(self, dirpath: str | Path | None = None, filename: str | None = None) -> None:
        self.dirpath = dirpath
        self.filename = filename
        self._output_file: TextIO | None = None
        self._write_stream: Callable[[str], Any] | None = None
        self._local_rank: int | None = None
        self._stage: str | None = None
        self._lightning_module: Any = None  # set by the trainer (PyTorchProfiler reads it)

    @abstractmethod
    def start(self, action_name: str) -> None:
        """Start timing ``action_name``."""

    @abstractmethod
    def stop(self, action_name: str) -> None:
        """Stop timing ``action_name`` and record its duration."""

    def summary(self) -> str:
        return ""

    @contextmanager
    def profile(self, action_name: str) -> Iterator[str]:
        """``with profiler.profile("load data"): ...`` times the block."""
        try:
            self.start(action_name)
            yield action_name
        finally:
            self.stop(action_name)

    def _prepare_filename(self, action_name: str | None = None, extension: str = ".txt") -> str:
        """``<stage>-<filename>[-<rank>][-<action>]<extension>``, path-unsafe characters as _."""
        parts = [self._stage, self.filename]
        parts += [None if self._local_rank is None else str(self._local_rank), action_name]
        base = "-".join(p for p in parts if p)
        base = re.sub(r"[\\/:*?\"<>|\n\r\t]", "_", base)
        base = re.sub(r"_+", "_", base).strip()
        return (base or "profile") + extension

    def _prepare_streams(self) -> None:
        if self._write_stream is not None:
            return
        if self.filename and self.dirpath:
            os.makedirs(self.dirpath, exist_ok=True)
            path = os.path.join(self.dirpath, self._prepare_filename())
            self._output_file = open(path, "a")  # noqa: SIM115 - closed in teardown
            self._write_stream = self._output_file.write
        else:
            self._write_stream = self._log_info

    def _log_info(self, text: str) -> None:
        if self._local_rank in (None, 0):
            log.info(text)

    def describe(self) -> None:
        """Write the report; the trainer calls it when a ``fit``/``validate``/... ends."""
        self._prepare_streams()
        summary = self.summary()
        if summary and self._write_stream is not None:
            self._write_stream(summary)
        if self._output_file is not None:
            self._output_file.flush()
        self.teardown(stage=self._stage)

    def _stats_to_str(self, stats: dict[str, str]) -> str:
        stage = f"{self._stage.upper()} " if self._stage is not None else ""
        output = [stage + "Profiler Report"]
        for action, value in stats.items():
            header = f"Profile stats for: {action}"
            if self._local_rank is not None:
                header += f" rank: {self._local_rank}"
            output += [header, value]
        return os.linesep.join(output)

    def setup(self, stage: str, local_rank: int | None = None, log_dir: str | None = None) -> None:
        """Called when a run starts: the report goes to ``dirpath`` or else the trainer's log_dir."""
        self._stage = stage
        self._local_rank = local_rank
        self.dirpath = self.dirpath or log_dir

    def teardown(self, stage: str | None) -> None:
        """Close the report file."""
        self._write_stream = None
        if self._output_file is not None:
            self._output_file.close()
            self._output_file = None

    def __del__(self) -> None:
        self.teardown(stage=self._stage)

    @property
    def local_rank(self) -> int:
        return 0 if self._local_rank is None else self._local_rank


class PassThroughProfiler(Profiler):
    """Records nothing. The trainer's default: with it the loop runs unprofiled (no cost)."""

    def start(self, action_name: str) -> None:
        pass

    def stop(self, action_name: str) -> None:
        pass
