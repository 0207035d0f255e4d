"""Celery tasks: thin wrappers; everything testable lives in `worker.runner`.

Only worker processes import this module (through the app's `include`), so the torch and
trainer_core imports that `worker.runner` pulls in happen once per worker process, at boot.
"""

from __future__ import annotations

import os

from celery import Task, shared_task

from worker import runner
from worker.celery_app import TASK_NAME, settings_of
from worker.preemption import Preemption

# The process's one preemption state: SIGTERM sets it, the running job's callbacks read it.
PREEMPTION = Preemption()


@shared_task(bind=True, name=TASK_NAME)
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
