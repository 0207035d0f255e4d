"""Celery tasks: thin wrappers; everything testable lives in `worker.runner`.

Only worker processes import this module (through the app's `include`), so the torch and
trainer_core imports that `worker.runner` pulls in happen once per worker process, at boot.
"""

from __future__ import annotations

import logging
import os

from celery import Task, shared_task
from celery.worker.request import Request

from worker import runner
from worker.celery_app import TASK_NAME, settings_of
from worker.preemption import Preemption

log = logging.getLogger(__name__)

# The process's one preemption state: SIGTERM sets it, the running job's callbacks read it.
PREEMPTION = Preemption()


class AckedAtStart(Request):
    """Acknowledges the job's message as the task starts (the claim follows at once).

    Celery's own early acknowledgement is queued on the worker's event loop, which a solo pool
    does not run until the task returns, so the message would stay unacknowledged all job long
    and Redis would hand it to another worker after its visibility timeout. The job row is the
    truth: should this worker die before or after the claim, the reconciler re-sends a queued
    job the broker no longer holds and the reaper requeues a running one whose heartbeat stopped.
    """

    def acknowledge(self) -> None:
        if not self.acknowledged:  # type: ignore[has-type]  # celery is untyped
            self._message.ack_log_error(log, self._connection_errors)
            self.acknowledged = True


@shared_task(bind=True, name=TASK_NAME, Request=AckedAtStart)
def run_job(self: Task, job_id: str) -> str:
    return runner.run_job(
        job_id=job_id,
        settings=settings_of(self.app),
        worker_id=f"{self.request.hostname}:{os.getpid()}",
        # A job handed back (preempted, retried) goes out through this worker's own app.
        send=lambda jid: self.app.send_task(TASK_NAME, args=[jid]),
        preemption=PREEMPTION,
    )


PREEMPTION.install()  # SIGTERM: checkpoint the running job and hand it back
