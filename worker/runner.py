"""Run one job: claim it, train it with the service callbacks, record how it ended.

Plain functions, so tests call them directly; the Celery task is a thin wrapper around run_job.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from sqlalchemy import select

import trainer_core as L
from api import notify
from api.artifacts import get_artifact_store
from api.db.jobs import TransitionError, lock_job, transition_job
from api.db.models import Checkpoint, FailureClass, Job, JobStatus, utcnow
from api.db.recovery import close_attempt
from api.db.session import session_scope
from api.settings import Settings
from worker import preemption
from worker.build import (
    build_components,
    make_early_stopping,
    make_model_checkpoint,
    make_trainer,
)
from worker.callbacks import DatabaseLogger, ServiceCallback
from worker.checkpoints import CheckpointSync
from worker.dispatch import send_job
from worker.failures import InfraError, error_summary, failure_class
from worker.logcapture import capture_output
from worker.sync import JobSync

log = logging.getLogger(__name__)

ACTIVE = (JobStatus.running, JobStatus.cancelling)
# An Outcome with this status hands the job back: requeued while api.db.recovery's policy allows.
RETRY = JobStatus.queued


def process_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass
class Outcome:
    """How training ended, before it is recorded."""

    status: JobStatus | None  # None: the job is no longer ours (reaped), record nothing
    fields: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None


def run_job(
    job_id: str,
    settings: Settings,
    worker_id: str | None = None,
    send: Callable[[str], None] | None = None,
) -> str:
    """Claim and run `job_id`; return its final status, or "skipped" when it was not queued.

    `send(job_id)` puts a job handed back to the queue (preempted, lost to an OOM or an
    infrastructure error with retries left) on the broker again; by default `send_job`.
    """
    worker_id = worker_id or process_id()
    send = send or (lambda jid: send_job(jid, settings))
    notify.install(settings)  # every commit that adds events announces them (api/notify.py)
    if preemption.requested():  # shutting down: leave the job to the next worker
        send(job_id)
        return "skipped"
    job = claim_job(settings, job_id, worker_id)
    if job is None:
        log.info("job %s is not queued (already claimed, cancelled or gone): skipped", job_id)
        return "skipped"
    log.info("job %s attempt %d running on %s", job_id, job.attempt, worker_id)
    with preemption.running(job_id, settings, send):
        outcome = execute(job, settings, worker_id)
        status = record_outcome(settings, job_id, outcome)
    if status == JobStatus.queued:
        preemption.resend_job(settings, job_id, send)
    return status


def claim_job(settings: Settings, job_id: str, worker_id: str) -> Job | None:
    """queued -> running under the row lock. Returns the claimed job, or None when not queued.

    The lock makes a duplicate delivery of the same message a no-op, and a job cancelled while
    queued never starts.
    """
    with session_scope(settings.database_url) as session:
        job = lock_job(session, job_id)
        if job is None or job.status != JobStatus.queued:
            return None
        now, attempt = utcnow(), job.attempt + 1
        resume = latest_checkpoint(session, job_id)
        record = {
            "attempt": attempt,
            "worker_id": worker_id,
            "started_at": now.isoformat(),
            "resumed_from": resume.id if resume else None,
            "resumed_from_step": resume.step if resume else None,
        }
        return transition_job(
            session,
            job_id,
            from_=[JobStatus.queued],
            to=JobStatus.running,
            reason=f"attempt {attempt} on {worker_id}",
            worker_id=worker_id,
            attempt=attempt,
            started_at=now,
            heartbeat_at=now,
            attempts=[*(job.attempts or []), record],
            failure_class=None,  # earlier attempts' endings stay in `attempts`
            error=None,
        )


def latest_checkpoint(session: Any, job_id: str) -> Checkpoint | None:
    """The newest stored checkpoint of the job (what a new attempt resumes from)."""
    return session.scalars(
        select(Checkpoint)
        .where(Checkpoint.job_id == job_id, Checkpoint.deleted_at.is_(None))
        .order_by(Checkpoint.step.desc(), Checkpoint.created_at.desc())
        .limit(1)
    ).one_or_none()


def execute(job: Job, settings: Settings, worker_id: str) -> Outcome:
    """Train the claimed job with the service attached; never raises for the user's errors."""
    workdir = Path(tempfile.mkdtemp(prefix=f"trainyard-{job.id}-"))
    sync = JobSync(settings, job.id, worker_id, max_runtime_s=job.spec.get("max_runtime_s")).start()
    try:
        with capture_output(sync), isolated_torch_state():
            return train(job, settings, sync, workdir)
    except InfraError as exc:
        log.exception("job %s: the service failed mid-job", job.id)
        return Outcome(
            RETRY,
            {"failure_class": FailureClass.infra_lost, "error": error_summary(exc)},
            reason="infrastructure error",
        )
    finally:
        sync.close()
        shutil.rmtree(workdir, ignore_errors=True)


def train(job: Job, settings: Settings, sync: JobSync, workdir: Path) -> Outcome:
    policy = job.spec.get("checkpoint") or {}
    checkpoints = CheckpointSync(
        settings,
        job.id,
        job.attempt,
        workdir / "checkpoints",
        sync,
        monitor=policy.get("monitor"),
        mode=policy.get("mode") or "min",
    )
    try:
        trainer = fit_and_test(job, settings, sync, checkpoints, workdir)
    except InfraError:
        raise
    except preemption.Preempted as exc:
        log.warning("job %s: %s; handing it back to the queue", job.id, exc)
        checkpoints.sync_files()
        return Outcome(
            RETRY, {"failure_class": FailureClass.preempted}, reason="preempted: worker stopping"
        )
    except Exception as exc:
        log.warning("job %s failed in user code: %r", job.id, exc)
        try:  # what was saved before the failure stays downloadable
            checkpoints.sync_files()
        except InfraError:
            log.exception("job %s: could not store its last checkpoints", job.id)
        cls = failure_class(exc)
        return Outcome(
            RETRY if cls == FailureClass.oom else JobStatus.failed,
            {"failure_class": cls, "error": error_summary(exc)},
            reason=f"{type(exc).__name__} in user code",
        )
    return after_fit(job, trainer, sync, checkpoints)


def fit_and_test(
    job: Job, settings: Settings, sync: JobSync, checkpoints: CheckpointSync, workdir: Path
) -> L.Trainer:
    """Everything that runs user code: seeding, building the components, fit, test."""
    spec = job.spec
    if spec.get("seed") is not None:
        L.seed_everything(int(spec["seed"]), verbose=False)
    module, datamodule = build_components(spec, settings)
    trainer = _make_trainer(spec, sync, checkpoints, workdir)
    resume = fetch_resume_checkpoint(settings, job, workdir)
    trainer.fit(module, datamodule=datamodule, ckpt_path=resume)
    if sync.stop_reason is None and spec.get("test_after_fit"):
        trainer.test(module, datamodule=datamodule)
    return trainer


def after_fit(job: Job, trainer: L.Trainer, sync: JobSync, checkpoints: CheckpointSync) -> Outcome:
    """Fit returned: finished, or stopped early by a cancel, a timeout or a takeover."""
    if sync.stop_reason == "lost":
        return Outcome(None)
    if sync.stop_reason in ("cancel", "timeout"):
        _save_last(trainer, checkpoints)
    checkpoints.sync_files()
    if sync.stop_reason == "timeout":
        limit = job.spec["max_runtime_s"]
        error = {"type": "Timeout", "message": f"stopped after max_runtime_s={limit}s"}
        return Outcome(
            JobStatus.failed,
            {"failure_class": FailureClass.timeout, "error": {**error, "traceback": ""}},
            reason="max_runtime_s exceeded",
        )
    return Outcome(JobStatus.succeeded)


def _make_trainer(
    spec: dict[str, Any], sync: JobSync, checkpoints: CheckpointSync, workdir: Path
) -> L.Trainer:
    model_checkpoint = make_model_checkpoint(spec, checkpoints.dirpath)
    checkpoints.model_checkpoint = model_checkpoint
    logger = DatabaseLogger(sync)
    callbacks: list[Any] = [ServiceCallback(sync, logger, checkpoints), model_checkpoint]
    early_stopping = make_early_stopping(spec)
    if early_stopping is not None:
        callbacks.append(early_stopping)
    return make_trainer(spec, root_dir=workdir, callbacks=callbacks, logger=logger)


def _save_last(trainer: L.Trainer, checkpoints: CheckpointSync) -> None:
    """A stopped job keeps a checkpoint of where it stopped (unless one was just written)."""
    if not checkpoints.has_step("last.ckpt", trainer.global_step):
        checkpoints.dirpath.mkdir(parents=True, exist_ok=True)
        trainer.save_checkpoint(str(checkpoints.dirpath / "last.ckpt"))


def fetch_resume_checkpoint(settings: Settings, job: Job, workdir: Path) -> str | None:
    """The checkpoint a later attempt resumes from, copied next to the work dir."""
    resume_id = (job.attempts or [{}])[-1].get("resumed_from")
    if not resume_id:
        return None
    with session_scope(settings.database_url) as session:
        row = session.get(Checkpoint, resume_id)
        key = row.storage_key if row is not None else None
    if key is None:
        return None
    target = workdir / "resume.ckpt"
    with get_artifact_store(settings).open(key) as src, open(target, "wb") as dst:
        shutil.copyfileobj(src, dst)
    return str(target)


def record_outcome(settings: Settings, job_id: str, outcome: Outcome) -> str:
    """Write the final status. A cancel that arrived after training ended still wins."""
    if outcome.status is None:
        log.warning("job %s is no longer ours; leaving it to its new owner", job_id)
        return "lost"
    if outcome.status == RETRY:
        fields = outcome.fields
        new = preemption.hand_back(
            settings, job_id, fields["failure_class"], outcome.reason or "", fields.get("error")
        )
        return str(new) if new is not None else "lost"
    with session_scope(settings.database_url) as session:
        job = lock_job(session, job_id)
        status, reason = outcome.status, outcome.reason
        if job is not None and job.cancel_requested and status == JobStatus.succeeded:
            status, reason = JobStatus.cancelled, "cancel requested"
        fields = dict(outcome.fields)
        if job is not None:  # the attempt's record says how it ended
            ended = fields.get("failure_class") or status
            fields["attempts"] = close_attempt(job, str(ended), utcnow(), fields.get("error"))
        try:
            transition_job(session, job_id, from_=ACTIVE, to=status, reason=reason, **fields)
        except (TransitionError, LookupError) as exc:
            log.warning("job %s: not recording %s: %s", job_id, status, exc)
            return "lost"
    return str(status)


@contextmanager
def isolated_torch_state() -> Iterator[None]:
    """Process-wide torch switches a job may flip (deterministic mode, dtype) do not leak into
    the next job this worker process runs."""
    saved = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
        torch.backends.cudnn.benchmark,
        torch.backends.cudnn.deterministic,
        torch.get_default_dtype(),
        torch.is_grad_enabled(),
    )
    try:
        yield
    finally:
        # Only when changed: the call imports torch._inductor (seconds) the first time.
        current = (
            torch.are_deterministic_algorithms_enabled(),
            torch.is_deterministic_algorithms_warn_only_enabled(),
        )
        if current != saved[:2]:
            torch.use_deterministic_algorithms(saved[0], warn_only=saved[1])
        torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = saved[2], saved[3]
        torch.set_default_dtype(saved[4])
        torch.set_grad_enabled(saved[5])
