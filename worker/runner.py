"""Run one job: claim it, train it with the service callbacks, record how it ended.

Plain functions, so tests call them directly; the Celery task is a thin wrapper around run_job.
The database side of each step (claim, heartbeat, finish, hand back, re-send) is in
worker/lifecycle.py; this module trains.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from pydantic import ValidationError

import trainer_core as L
from api import notify
from api.artifacts import get_artifact_store
from api.db.checkpoints import storage_key_of
from api.db.models import FailureClass, Job, JobStatus
from api.db.session import session_scope
from api.settings import Settings
from trainyard.schemas.jobs import JobSpec
from worker import lifecycle
from worker.build import (
    build_components,
    build_spec_callbacks,
    make_early_stopping,
    make_model_checkpoint,
    make_trainer,
)
from worker.callbacks import DatabaseLogger, ServiceCallback
from worker.checkpoints import CheckpointSync
from worker.dispatch import send_job
from worker.failures import InfraError, UnsafeCheckpointError, error_summary, failure_class
from worker.lifecycle import RETRY, Outcome
from worker.logcapture import capture_output
from worker.preemption import Preempted, Preemption
from worker.sync import JobSync

log = logging.getLogger(__name__)


def process_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def run_job(
    job_id: str,
    settings: Settings,
    worker_id: str | None = None,
    send: lifecycle.Send | None = None,
    preemption: Preemption | None = None,
) -> str:
    """Claim and run `job_id`; return its final status, or "skipped" when it was not queued.

    `send(job_id)` puts a job handed back to the queue (preempted, lost to an OOM or an
    infrastructure error with retries left) on the broker again; by default `send_job`.
    `preemption` is the process's stop request (worker.tasks owns it); by default none.
    """
    worker_id = worker_id or process_id()
    send = send or (lambda jid: send_job(jid, settings))
    preemption = preemption or Preemption()
    notify.install(settings)  # every commit that adds events announces them (api/notify.py)
    if preemption.requested():  # shutting down: leave the job to the next worker
        send(job_id)
        return "skipped"
    job = lifecycle.claim(settings, job_id, worker_id)
    if job is None:
        log.info("job %s is not queued (already claimed, cancelled or gone): skipped", job_id)
        return "skipped"
    log.info("job %s attempt %d running on %s", job_id, job.attempt, worker_id)
    with preemption.running(job_id, settings, send):
        outcome = execute(job, settings, worker_id, preemption)
        return lifecycle.end(settings, job_id, outcome, send)


def load_spec(job: Job) -> JobSpec | Outcome:
    """The stored spec as the typed JobSpec; a row the API never wrote (hand-edited, from an
    older server) fails the job instead of failing somewhere inside training."""
    try:
        return JobSpec.model_validate(job.spec, strict=False)
    except ValidationError as exc:
        log.warning("job %s: its stored spec is not a valid JobSpec: %s", job.id, exc)
        error = {"type": "InvalidSpec", "message": str(exc)[:2000], "traceback": ""}
        return Outcome(
            JobStatus.failed,
            {"failure_class": FailureClass.user_error, "error": error},
            reason="invalid stored spec",
        )


@dataclass
class Attempt:
    """The claimed job as training sees it."""

    job: Job
    spec: JobSpec
    settings: Settings
    preemption: Preemption
    workdir: Path


def execute(job: Job, settings: Settings, worker_id: str, preemption: Preemption) -> Outcome:
    """Train the claimed job with the service attached; never raises for the user's errors."""
    spec = load_spec(job)
    if isinstance(spec, Outcome):
        return spec
    run = Attempt(
        job, spec, settings, preemption, Path(tempfile.mkdtemp(prefix=f"trainyard-{job.id}-"))
    )
    sync = JobSync(settings, job.id, worker_id, max_runtime_s=spec.max_runtime_s).start()
    try:
        with capture_output(sync), isolated_torch_state():
            return train(run, sync)
    except InfraError as exc:
        log.exception("job %s: the service failed mid-job", job.id)
        return Outcome(
            RETRY,
            {"failure_class": FailureClass.infra_lost, "error": error_summary(exc)},
            reason="infrastructure error",
        )
    finally:
        sync.close()
        shutil.rmtree(run.workdir, ignore_errors=True)


def train(run: Attempt, sync: JobSync) -> Outcome:
    policy = run.spec.checkpoint
    checkpoints = CheckpointSync(
        run.settings,
        run.job.id,
        run.job.attempt,
        run.workdir / "checkpoints",
        sync,
        monitor=policy.monitor if policy else None,
        mode=policy.mode if policy else "min",
    )
    try:
        trainer = fit_and_test(run, sync, checkpoints)
    except InfraError:
        raise
    except Preempted as exc:
        log.warning("job %s: %s; handing it back to the queue", run.job.id, exc)
        checkpoints.sync_files()
        return Outcome(
            RETRY, {"failure_class": FailureClass.preempted}, reason="preempted: worker stopping"
        )
    except Exception as exc:
        log.warning("job %s failed in user code: %r", run.job.id, exc)
        try:  # what was saved before the failure stays downloadable
            checkpoints.sync_files()
        except (InfraError, UnsafeCheckpointError):
            log.exception("job %s: could not store its last checkpoints", run.job.id)
        cls = failure_class(exc)
        return Outcome(
            RETRY if cls == FailureClass.oom else JobStatus.failed,
            {"failure_class": cls, "error": error_summary(exc)},
            reason=f"{type(exc).__name__} in user code",
        )
    try:
        return after_fit(run, trainer, sync, checkpoints)
    except UnsafeCheckpointError as exc:  # a first checkpoint written only on the way out
        error = {"failure_class": FailureClass.user_error, "error": error_summary(exc)}
        return Outcome(JobStatus.failed, error, reason="unsafe checkpoint")


def fit_and_test(run: Attempt, sync: JobSync, checkpoints: CheckpointSync) -> L.Trainer:
    """Everything that runs user code: seeding, building the components, fit, test."""
    spec = run.spec
    if spec.seed is not None:
        L.seed_everything(spec.seed, verbose=False)
    module, datamodule = build_components(spec, run.settings)
    trainer = _make_trainer(run, sync, checkpoints)
    resume = fetch_resume_checkpoint(run.settings, run.job, run.workdir)
    trainer.fit(module, datamodule=datamodule, ckpt_path=resume)
    if sync.stop_reason is None and spec.test_after_fit:
        trainer.test(module, datamodule=datamodule)
    return trainer


def after_fit(
    run: Attempt, trainer: L.Trainer, sync: JobSync, checkpoints: CheckpointSync
) -> Outcome:
    """Fit returned: finished, or stopped early by a cancel, a timeout or a takeover."""
    if sync.stop_reason == "lost":
        return Outcome(None)
    if sync.stop_reason in ("cancel", "timeout"):
        _save_last(trainer, checkpoints)
    checkpoints.sync_files()
    if sync.stop_reason == "timeout":
        error = {
            "type": "Timeout",
            "message": f"stopped after max_runtime_s={run.spec.max_runtime_s}s",
            "traceback": "",
        }
        return Outcome(
            JobStatus.failed,
            {"failure_class": FailureClass.timeout, "error": error},
            reason="max_runtime_s exceeded",
        )
    return Outcome(JobStatus.succeeded)


def _make_trainer(run: Attempt, sync: JobSync, checkpoints: CheckpointSync) -> L.Trainer:
    model_checkpoint = make_model_checkpoint(run.spec, checkpoints.dirpath)
    checkpoints.model_checkpoint = model_checkpoint
    logger = DatabaseLogger(sync)
    service = ServiceCallback(sync, logger, checkpoints, run.preemption)
    # the spec's callbacks after the service's, so a stop request is seen first
    callbacks: list[Any] = [
        service,
        *build_spec_callbacks(run.spec, run.settings),
        model_checkpoint,
    ]
    early_stopping = make_early_stopping(run.spec)
    if early_stopping is not None:
        callbacks.append(early_stopping)
    return make_trainer(run.spec, root_dir=run.workdir, callbacks=callbacks, logger=logger)


def _save_last(trainer: L.Trainer, checkpoints: CheckpointSync) -> None:
    """A stopped job keeps a checkpoint of where it stopped (unless one was just written)."""
    if not checkpoints.has_step("last.ckpt", trainer.global_step):
        checkpoints.dirpath.mkdir(parents=True, exist_ok=True)
        trainer.save_checkpoint(str(checkpoints.dirpath / "last.ckpt"))


def fetch_resume_checkpoint(settings: Settings, job: Job, workdir: Path) -> str | None:
    """The checkpoint this attempt resumes from (chosen at claim), copied next to the work dir."""
    resume_id = (job.attempts or [{}])[-1].get("resumed_from")
    if not resume_id:
        return None
    with session_scope(settings.database_url) as session:
        key = storage_key_of(session, resume_id)
    if key is None:
        return None
    target = workdir / "resume.ckpt"
    with get_artifact_store(settings).open(key) as src, open(target, "wb") as dst:
        shutil.copyfileobj(src, dst)
    return str(target)


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
