"""Celery tasks: thin wrappers around the supervisor (worker/supervisor.py).

The worker process never trains and never imports torch: each job runs in a process of its own
(worker/job_process.py). `trainyard worker` (server/commands.py) joins the fleet, builds the
Supervisor and hangs it on the Celery app before the worker starts consuming.
"""

from __future__ import annotations

import logging

from celery import Celery, Task, shared_task
from celery.worker.request import Request

from worker.celery_app import TASK_NAME
from worker.supervisor import Supervisor

log = logging.getLogger(__name__)


class AckedAtStart(Request):
    """Acknowledges the job's message as the task starts (the claim follows at once).

    Celery's own early acknowledgement is queued on the worker's event loop, which may not run
    until the task returns, so the message would stay unacknowledged all job long and Redis
    would hand it to another worker after its visibility timeout. The job row is the truth:
    should this worker die before or after the claim, the scheduler places a job again once
    the worker is offline, and the reaper requeues a running one whose heartbeat stopped.
    """

    def acknowledge(self) -> None:
        if not self.acknowledged:  # type: ignore[has-type]  # celery is untyped
            self._message.ack_log_error(log, self._connection_errors)
            self.acknowledged = True


def supervisor_of(app: Celery) -> Supervisor:
    supervisor = getattr(app, "trainyard_supervisor", None)
    if not isinstance(supervisor, Supervisor):
        raise RuntimeError("start workers with `trainyard worker`: it registers the worker first")
    return supervisor


@shared_task(bind=True, name=TASK_NAME, Request=AckedAtStart)
def run_job(self: Task, job_id: str) -> str:
    return supervisor_of(self.app).run(job_id)
