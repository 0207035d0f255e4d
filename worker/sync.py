"""JobSync: the one background thread that talks to the database while a job trains.

The training thread only appends to in-memory buffers (no database round trip per step). This
thread, every `flush_interval_s`, writes buffered metrics, log lines and the latest progress in
one transaction under the job's row lock; every `heartbeat_interval_s` it beats the heartbeat;
and every `cancel_poll_s` it reads the cancel flag. The training thread acts on `stop_reason`
at batch boundaries.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from typing import Any

from api.db.jobs import append_events, is_cancel_requested, lock_job
from api.db.metrics import MetricRow, insert_metrics
from api.db.models import EventType
from api.db.session import session_scope
from api.settings import Settings
from trainyard.schemas.common import refuse_control_characters
from worker import lifecycle

log = logging.getLogger(__name__)

PROGRESS_EVENT_INTERVAL_S = 0.5
METRIC_NAME_MAX = 200  # metrics.name  # clients get at most ~2 progress events per second


def json_number(value: float) -> float | None:
    """JSON (and PostgreSQL's json type) has no NaN or infinity."""
    return value if math.isfinite(value) else None


class JobSync:
    def __init__(
        self,
        settings: Settings,
        job_id: str,
        worker_id: str,
        *,
        flush_interval_s: float = 0.2,
        min_flush_gap_s: float = 0.05,
        cancel_poll_s: float = 0.5,
        max_buffered_rows: int = 1000,
        max_runtime_s: float | None = None,
    ) -> None:
        self.settings, self.job_id, self.worker_id = settings, job_id, worker_id
        self.flush_interval_s = flush_interval_s
        self.min_flush_gap_s = min_flush_gap_s
        self.cancel_poll_s = cancel_poll_s
        self.max_buffered_rows = max_buffered_rows
        self.deadline = time.monotonic() + max_runtime_s if max_runtime_s else None
        self._metrics: list[MetricRow] = []
        self._logs: list[dict[str, Any]] = []
        self._progress: dict[str, Any] | None = None
        self._buffer_lock = threading.Lock()
        self._write_lock = threading.Lock()  # one transaction at a time, from either thread
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_progress_event = 0.0
        self._unannounced: dict[str, Any] | None = None  # newest progress not yet sent as event
        self._refused_names: set[str] = set()  # metric names that cannot be stored, said once
        self._refusals: list[dict[str, Any]] = []  # log lines saying so, not yet written
        # Set by this thread, read by the training thread at batch boundaries.
        self.stop_reason: str | None = None  # "cancel" | "lost" | "timeout"

    # ------------------------------------------------------------ training-thread side

    def add_metrics(self, rows: list[MetricRow]) -> None:
        with self._buffer_lock:
            self._metrics.extend(rows)
            full = len(self._metrics) >= self.max_buffered_rows
        if full:
            self._wake.set()

    def add_log(self, stream: str, line: str) -> None:
        with self._buffer_lock:
            self._logs.append({"stream": stream, "line": line, "at": time.time()})
            full = len(self._logs) >= self.max_buffered_rows
        if full:
            self._wake.set()

    def set_progress(self, progress: dict[str, Any]) -> None:
        with self._buffer_lock:
            self._progress = progress

    def request_flush(self) -> None:
        """Write soon, without waiting (epoch and stage ends)."""
        self._wake.set()

    def request_stop(self, reason: str) -> None:
        if self.stop_reason is None:
            self.stop_reason = reason

    # ------------------------------------------------------------ lifecycle

    def start(self) -> JobSync:
        self._thread = threading.Thread(
            target=self._run, name=f"jobsync-{self.job_id}", daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop the thread and write whatever is still buffered."""
        self._closed.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.flush()

    def _run(self) -> None:
        next_beat = next_poll = 0.0
        while not self._closed.is_set():
            self._wake.wait(self.flush_interval_s)
            self._wake.clear()
            try:
                self.flush()
                now = time.monotonic()
                if now >= next_beat:
                    self._beat()
                    next_beat = now + self.settings.heartbeat_interval_s
                if now >= next_poll:
                    self._poll_cancel()
                    next_poll = now + self.cancel_poll_s
                if self.deadline is not None and now >= self.deadline:
                    self.request_stop("timeout")
            except Exception:  # a database hiccup must not kill the job; retry next tick
                log.exception("job %s: sync failed; retrying", self.job_id)
            # Rows logged now and then go out at once; rows logged every step are batched,
            # at most one transaction per gap, so the database never paces the training loop.
            self._closed.wait(self.min_flush_gap_s)

    # ------------------------------------------------------------ database side

    def _beat(self) -> None:
        if not lifecycle.beat(self.settings, self.job_id, self.worker_id):
            # Reaped and requeued, or gone: someone else owns it now, so stop quietly.
            self.request_stop("lost")

    def _poll_cancel(self) -> None:
        with session_scope(self.settings.database_url) as session:
            if is_cancel_requested(session, self.job_id):
                self.request_stop("cancel")

    def _take(
        self,
    ) -> tuple[list[MetricRow], list[dict[str, Any]], dict[str, Any] | None, dict[str, Any] | None]:
        """Empty the buffers: (metrics, logs, progress for the row, progress to announce).

        The job row always gets the newest progress; clients get a `progress` event at most
        every PROGRESS_EVENT_INTERVAL_S, and the newest one when the job ends.
        """
        with self._buffer_lock:
            metrics, self._metrics = self._metrics, []
            logs, self._logs = self._logs, []
            progress, self._progress = self._progress, None
        if progress is not None:
            self._unannounced = progress
        announce = None
        due = time.monotonic() - self._last_progress_event >= PROGRESS_EVENT_INTERVAL_S
        if self._unannounced is not None and (due or self._closed.is_set()):
            announce, self._unannounced = self._unannounced, None
        return metrics, logs, progress, announce

    def _put_back(
        self,
        metrics: list[MetricRow],
        logs: list[dict[str, Any]],
        progress: dict[str, Any] | None,
        announce: dict[str, Any] | None,
    ) -> None:
        with self._buffer_lock:
            self._metrics[:0] = metrics
            self._logs[:0] = logs
            self._progress = self._progress or progress
        self._unannounced = self._unannounced or announce

    def flush(self) -> None:
        """Write buffered rows now (callable from either thread)."""
        with self._write_lock:
            metrics, logs, progress, announce = self._take()
            if not (metrics or logs or progress or announce):
                return
            try:
                self._write(metrics, logs, progress, announce)
            except Exception:
                # Idempotent inserts make the retry safe.
                self._put_back(metrics, logs, progress, announce)
                raise
            if announce is not None:
                self._last_progress_event = time.monotonic()

    def _write(
        self,
        metrics: list[MetricRow],
        logs: list[dict[str, Any]],
        progress: dict[str, Any] | None,
        announce: dict[str, Any] | None,
    ) -> None:
        with session_scope(self.settings.database_url) as session:
            job = lock_job(session, self.job_id)
            if job is None:
                return
            storable = [m for m in metrics if self._storable(m, session)]
            stored = insert_metrics(session, storable)
            events: list[tuple[EventType, dict[str, Any]]] = [
                (EventType.metric, {**m, "value": json_number(m["value"])}) for m in stored
            ]
            if stored:
                latest = dict(job.latest_metrics or {})
                latest.update({m["name"]: json_number(m["value"]) for m in stored})
                job.latest_metrics = latest
            # Into `logs` itself: a failed write puts `logs` back, refusals with them.
            logs.extend(self._refusals)
            self._refusals = []
            events += [(EventType.log, line) for line in logs]
            if progress is not None:
                job.progress = progress
            if announce is not None:
                events.append((EventType.progress, announce))
            if events:
                append_events(session, job, events)

    def _storable(self, row: MetricRow, session: Any) -> bool:
        """Whether the point fits its columns. A name that does not (too long, a control
        character: PostgreSQL refuses NUL, SQLite would keep it) is dropped on both databases
        alike, and said once in the job's log instead of failing every flush after it."""
        # SQLite stores NaN as NULL, which the NOT NULL value column refuses.
        if math.isnan(row["value"]) and session.get_bind().dialect.name == "sqlite":
            return False
        name = str(row["name"])
        problem = None
        if len(name) > METRIC_NAME_MAX:
            problem = f"it is longer than {METRIC_NAME_MAX} characters"
        else:
            try:
                refuse_control_characters(name)
            except ValueError as exc:
                problem = str(exc).split(";")[0]
        if problem is None:
            return True
        if name not in self._refused_names:
            self._refused_names.add(name)
            line = f"trainyard: metric {name[:80]!r} is not stored: {problem}"
            self._refusals.append({"stream": "stderr", "line": line, "at": time.time()})
        return False
