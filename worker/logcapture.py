"""Capture a job's stdout, stderr and Python logging lines into `log` events (through JobSync).

Lines still reach the worker's own output, so `docker logs` shows them too.
"""

from __future__ import annotations

import io
import logging
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from worker.sync import JobSync

MAX_LINE = 4000  # a runaway line (a tensor printed whole) must not become a huge event
# Celery re-logs what is printed to its redirected stdout; that copy is not a new line.
_SKIP_LOGGERS = ("celery.redirected",)


class _Tee(io.TextIOBase):
    """A text stream that forwards everything and hands complete lines to JobSync."""

    def __init__(self, original: TextIO, sync: JobSync, stream: str) -> None:
        self.original, self.sync, self.stream = original, sync, stream
        self._partial = ""
        self._lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        try:
            self.original.write(text)
        except Exception:  # a closed or odd original stream must not break training
            pass
        with self._lock:
            *lines, self._partial = (self._partial + text).split("\n")
        for line in lines:
            self._emit(line)
        return len(text)

    def _emit(self, line: str) -> None:
        line = line.rstrip("\r")
        if line:
            self.sync.add_log(self.stream, line[:MAX_LINE])

    def flush(self) -> None:
        try:
            self.original.flush()
        except Exception:
            pass

    def close_partial(self) -> None:
        with self._lock:
            partial, self._partial = self._partial, ""
        self._emit(partial)

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.original, "encoding", "utf-8")

    def isatty(self) -> bool:
        return False


class _SyncHandler(logging.Handler):
    def __init__(self, sync: JobSync) -> None:
        super().__init__(level=logging.INFO)
        self.sync = sync
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(_SKIP_LOGGERS):
            return
        try:
            for line in self.format(record).splitlines():
                self.sync.add_log("logging", line[:MAX_LINE])
        except Exception:
            self.handleError(record)


@contextmanager
def capture_output(sync: JobSync) -> Iterator[None]:
    """While active, this process's stdout, stderr and root logging also go to the job's log."""
    out, err = _Tee(sys.stdout, sync, "stdout"), _Tee(sys.stderr, sync, "stderr")
    handler = _SyncHandler(sync)
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err  # type: ignore[assignment]
    logging.getLogger().addHandler(handler)
    try:
        yield
    finally:
        logging.getLogger().removeHandler(handler)
        sys.stdout, sys.stderr = saved
        out.close_partial()
        err.close_partial()
