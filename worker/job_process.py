"""One job's own process, started by its worker (worker/supervisor.py) once the job is claimed:

    python -m worker.job_process JOB_ID WORKER_ID ATTEMPT

It sees only its GPUs (CUDA_VISIBLE_DEVICES, set by the supervisor: cuda:0..N-1, or none), reads
its settings from TRAINYARD_JOB_SETTINGS (JSON), trains the attempt with worker/runner.py and
records how it ended (worker/lifecycle.py). A SIGTERM (the supervisor forwards the worker's)
checkpoints and hands the job back; a second one stops at once (worker/preemption.py). It dies
with its supervisor: a watchdog thread kills its process group (itself, data loader workers,
anything it started) once its parent is gone, even after a kill -9 of the worker.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
from typing import Any

from api import notify
from api.settings import Settings
from worker import lifecycle, runner
from worker.preemption import Preemption
from worker.supervisor import SETTINGS_ENV, SUPERVISOR_ENV

log = logging.getLogger("trainyard.job")
PARENT_POLL_S = 0.5


def settings_from_env() -> Settings:
    blob = os.environ.get(SETTINGS_ENV)
    return Settings(**json.loads(blob)) if blob else Settings()


def die_with_parent(parent: int) -> None:
    """Kill this process group when the parent process is gone (reparented)."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        log.error("the worker (pid %d) is gone: stopping this job process", parent)
        os.killpg(os.getpgrp(), signal.SIGKILL)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def on_sigterm(preemption: Preemption, settings: Settings) -> None:
    def handler(signum: int, frame: Any) -> None:
        preemption.request(grace_s=settings.preempt_grace_s)  # a second one stops at once

    signal.signal(signal.SIGTERM, handler)


def run(job_id: str, worker_id: str, attempt: int) -> int:
    settings = settings_from_env()
    preemption = Preemption()
    on_sigterm(preemption, settings)
    notify.install(settings)
    job = lifecycle.load_claimed(settings, job_id, worker_id, attempt)
    if job is None:
        log.warning(
            "job %s attempt %d is not running on %s: nothing to do", job_id, attempt, worker_id
        )
        return 0

    def to_scheduler(_: str) -> None:
        pass  # handed back: the scheduler places it anew (the supervisor asks for a pass)

    with preemption.running(job_id, settings, to_scheduler):
        outcome = runner.execute(job, settings, worker_id, preemption)
        status = lifecycle.end(settings, job_id, outcome, to_scheduler)
    log.info("job %s attempt %d ended: %s", job_id, attempt, status)
    return 0


def main(argv: list[str]) -> int:
    logging.basicConfig(
        level=logging.INFO, format="[%(asctime)s: %(levelname)s/job %(process)d] %(message)s"
    )
    # The pid the supervisor gave, not getppid(): it may have died before this line ran.
    die_with_parent(int(os.environ.get(SUPERVISOR_ENV) or os.getppid()))
    job_id, worker_id, attempt = argv[0], argv[1], int(argv[2])
    return run(job_id, worker_id, attempt)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
