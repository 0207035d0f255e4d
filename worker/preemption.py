"""Preemption: a SIGTERM to the worker (a warm shutdown, a spot machine about to go away).

First SIGTERM: Celery stops taking messages and `Preemption.requested()` turns true. The running
job's ServiceCallback saves a checkpoint at the next batch end and stops at the following batch
boundary; the runner hands the job back (`queued`, failure_class `preempted`, never counted as a
retry) and re-sends it, so the next free worker resumes it from that checkpoint. Then the task
returns and Celery exits.

A second SIGTERM, or `preempt_grace_s` without the job having stopped, stops at once: the job is
handed back as it is (it resumes from its latest stored checkpoint) and the process exits.

One `Preemption` per worker process (worker.tasks makes it and connects it to Celery's signal);
the runner and the callbacks are handed it. One job per process (the solo pool of
`trainyard worker --concurrency=1`, the default). With a prefork pool the signal reaches only
the parent; its children's jobs are recovered by the heartbeat reaper instead (infra_lost).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from api.db.models import FailureClass, JobStatus
from api.settings import Settings, get_settings
from worker import lifecycle

log = logging.getLogger(__name__)

HARD_STOP_EXIT = 75  # EX_TEMPFAIL: stopped on purpose, try again elsewhere
RELEASE_TIMEOUT_S = 5.0


class Preempted(Exception):
    """Raised at a batch boundary to leave fit after the preemption checkpoint was saved."""


@dataclass
class _Running:
    job_id: str
    settings: Settings
    send: lifecycle.Send


class Preemption:
    """This process's stop request, and the job a hard stop hands back."""

    def __init__(self, exit_process: Callable[[int], Any] = os._exit) -> None:
        self._requested = threading.Event()
        self._lock = threading.Lock()
        self._current: _Running | None = None
        self._timer: threading.Timer | None = None
        self._exit = exit_process

    def requested(self) -> bool:
        return self._requested.is_set()

    def request(self, grace_s: float | None = None) -> None:
        """Ask the running job to checkpoint and hand itself back; a second call stops at once."""
        with self._lock:
            second = self._requested.is_set()
            if not second:
                self._requested.set()
                if grace_s is not None:
                    self._timer = threading.Timer(grace_s, self.hard_stop, args=("grace timeout",))
                    self._timer.daemon = True
                    self._timer.start()
        if second:
            self.hard_stop("second SIGTERM")
        else:
            log.warning("preemption requested: the running job checkpoints and goes back to queue")

    def reset(self) -> None:
        """Forget a request (tests that preempt a job in-process and then resume it)."""
        with self._lock:
            self._requested.clear()
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

    @contextmanager
    def running(self, job_id: str, settings: Settings, send: lifecycle.Send) -> Iterator[None]:
        """Mark `job_id` as this process's running job (what a hard stop hands back)."""
        self._current = _Running(job_id, settings, send)
        try:
            yield
        finally:
            self._current = None

    def hard_stop(self, why: str) -> None:
        """Hand the running job back without a new checkpoint, then exit the process now."""
        job = self._current
        log.warning("stopping at once (%s)", why)
        if job is not None:
            # In a thread: the signal may have interrupted the training thread while it held
            # the job's row lock, and waiting on it from here would wait forever.
            helper = threading.Thread(target=_release, args=(job,), daemon=True)
            helper.start()
            helper.join(RELEASE_TIMEOUT_S)
        logging.shutdown()
        self._exit(HARD_STOP_EXIT)

    def on_worker_shutting_down(self, **kwargs: Any) -> None:
        """Celery's `worker_shutting_down` signal, sent in the main process on each SIGTERM."""
        if kwargs.get("how", "Warm") != "Warm":
            return
        job = self._current
        settings = job.settings if job is not None else get_settings()
        self.request(grace_s=settings.preempt_grace_s)

    def install(self) -> None:
        """Connect to Celery's shutdown signal (once per worker process, by worker.tasks)."""
        from celery import signals

        signals.worker_shutting_down.connect(self.on_worker_shutting_down, weak=False)


def _release(job: _Running) -> None:
    try:
        reason = "preempted: hard stop"
        status = lifecycle.hand_back(job.settings, job.job_id, FailureClass.preempted, reason)
        if status == JobStatus.queued:
            lifecycle.resend(job.settings, job.job_id, job.send)
    except Exception:  # the reaper will find it by its heartbeat
        log.exception("could not hand job %s back", job.job_id)
