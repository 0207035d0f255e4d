"""Preemption: a SIGTERM to the worker (a warm shutdown, a spot machine about to go away).

First SIGTERM: Celery stops taking messages and `requested()` turns true. The running job's
ServiceCallback saves a checkpoint at the next batch end and stops at the following batch
boundary; the runner hands the job back (`queued`, failure_class `preempted`, never counted as a
retry) and re-sends it, so the next free worker resumes it from that checkpoint. Then the task
returns and Celery exits.

A second SIGTERM, or `preempt_grace_s` without the job having stopped, stops at once: the job is
handed back as it is (it resumes from its latest stored checkpoint) and the process exits.

One job per process (the solo pool of `trainyard worker --concurrency=1`, the default). With a
prefork pool the signal reaches only the parent; its children's jobs are recovered by the
heartbeat reaper instead (infra_lost).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from api.db.jobs import TransitionError
from api.db.models import FailureClass, JobStatus, utcnow
from api.db.recovery import release_dispatch, retry_or_fail, take_for_dispatch
from api.db.session import session_scope
from api.settings import Settings

log = logging.getLogger(__name__)

HARD_STOP_EXIT = 75  # EX_TEMPFAIL: stopped on purpose, try again elsewhere
RELEASE_TIMEOUT_S = 5.0


class Preempted(Exception):
    """Raised at a batch boundary to leave fit after the preemption checkpoint was saved."""


@dataclass
class _Running:
    job_id: str
    settings: Settings
    resend: Any  # Callable[[str], None]


_requested = threading.Event()
_lock = threading.Lock()
_current: _Running | None = None
_timer: threading.Timer | None = None


def requested() -> bool:
    return _requested.is_set()


def request(grace_s: float | None = None) -> None:
    """Ask the running job to checkpoint and hand itself back; a second call stops at once."""
    global _timer
    with _lock:
        if _requested.is_set():
            second = True
        else:
            second = False
            _requested.set()
            if grace_s is not None:
                _timer = threading.Timer(grace_s, hard_stop, args=("grace timeout",))
                _timer.daemon = True
                _timer.start()
    if second:
        hard_stop("second SIGTERM")
    else:
        log.warning("preemption requested: the running job checkpoints and goes back to the queue")


def reset() -> None:
    """Forget a request (tests that preempt a job in-process and then resume it)."""
    global _timer
    with _lock:
        _requested.clear()
        if _timer is not None:
            _timer.cancel()
            _timer = None


@contextmanager
def running(job_id: str, settings: Settings, resend: Any) -> Iterator[None]:
    """Mark `job_id` as this process's running job (what a hard stop hands back)."""
    global _current
    _current = _Running(job_id, settings, resend)
    try:
        yield
    finally:
        _current = None


def hard_stop(why: str) -> None:
    """Hand the running job back without a new checkpoint, then exit the process now."""
    job = _current
    log.warning("stopping at once (%s)", why)
    if job is not None:
        # In a thread: the signal may have interrupted the training thread while it held the
        # job's row lock, and waiting on it from here would wait forever.
        helper = threading.Thread(target=_release, args=(job,), daemon=True)
        helper.start()
        helper.join(RELEASE_TIMEOUT_S)
    logging.shutdown()
    os._exit(HARD_STOP_EXIT)


def _release(job: _Running) -> None:
    try:
        status = hand_back(job.settings, job.job_id, FailureClass.preempted, "preempted: hard stop")
        if status == JobStatus.queued:
            resend_job(job.settings, job.job_id, job.resend)
    except Exception:  # the reaper will find it by its heartbeat
        log.exception("could not hand job %s back", job.job_id)


def hand_back(
    settings: Settings,
    job_id: str,
    failure_class: FailureClass,
    reason: str,
    error: dict[str, Any] | None = None,
) -> str | None:
    """End the running attempt by the retry policy; the new status, or None if not ours now."""
    with session_scope(settings.database_url) as session:
        try:
            job = retry_or_fail(
                session, job_id, failure_class=failure_class, reason=reason, error=error
            )
        except (TransitionError, LookupError):
            return None
        return job.status


def resend_job(settings: Settings, job_id: str, send: Any) -> bool:
    """Put a job that was handed back on the broker again, unless someone else already did.

    A failed send leaves it undispatched for the API's reconciler (the outbox)."""
    now = utcnow()
    with session_scope(settings.database_url) as session:
        if not take_for_dispatch(session, job_id, None, now):
            return False
        try:
            send(job_id)
        except Exception:
            log.warning("job %s: re-send failed; the reconciler will", job_id, exc_info=True)
            release_dispatch(session, job_id, now)
            return False
    return True


def on_worker_shutting_down(**kwargs: Any) -> None:
    """Celery's `worker_shutting_down` signal, sent in the main process on each SIGTERM."""
    if kwargs.get("how", "Warm") != "Warm":
        return
    settings = _current.settings if _current is not None else None
    request(grace_s=settings.preempt_grace_s if settings is not None else _default_grace())


def _default_grace() -> float:
    from api.settings import get_settings

    return get_settings().preempt_grace_s


def install() -> None:
    """Connect to Celery's shutdown signal (called once per worker process, by worker.tasks)."""
    from celery import signals

    signals.worker_shutting_down.connect(on_worker_shutting_down, weak=False)
