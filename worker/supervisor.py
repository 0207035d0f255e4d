"""The worker as a supervisor: each job in a process of its own, with exactly its GPUs.

For a job id that reaches this worker (its own queue, or the shared one):

1. make sure the job is placed here (the scheduler did it, or, for a job sent to the shared
   queue, this worker places it on its free slots through the same reservation), then claim it
   (`queued -> running`; the claim checks the placement again);
2. start `python -m worker.job_process` in a new process group, with CUDA_VISIBLE_DEVICES set to
   the job's GPUs ("" for a CPU job), so the job sees them as cuda:0..N-1;
3. watch it: its resident memory, summed over its processes, against the job's limit (above it
   the process group is killed and the job ends as `oom`); a SIGTERM to the worker is forwarded
   (the job checkpoints and hands itself back), a second one too (it stops at once) and then
   the worker exits 75;
4. once it exited: if it did not record how the attempt ended (killed, crashed), record it here
   (`oom`, `preempted` or `infra_lost`, by the retry policy), and run a scheduling pass.

One job's crash, OOM or kill never takes the worker or its other jobs down, and no job process
outlives the worker (worker/job_process.py's watchdog).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psutil

from api.db.models import FailureClass, Job
from api.db.scheduling import place_here
from api.settings import Settings
from worker import lifecycle

log = logging.getLogger(__name__)

# What a job process reads (worker/job_process.py): its settings, and whom to die with.
SETTINGS_ENV = "TRAINYARD_JOB_SETTINGS"
SUPERVISOR_ENV = "TRAINYARD_SUPERVISOR_PID"

POLL_S = 0.25
HARD_STOP_EXIT = 75
HARD_STOP_WAIT_S = 8.0  # a job process's hard stop hands its job back within ~5 s


@dataclass
class Child:
    job_id: str
    attempt: int
    popen: subprocess.Popen[bytes]
    memory_limit_mb: int | None
    killed_for_memory: float | None = None  # resident MiB when it was killed


@dataclass
class Supervisor:
    """This worker process's job processes, and how it stops them."""

    settings: Settings
    worker_id: str
    after_job: Callable[[], None] = lambda: None  # a scheduling pass, once a job ended
    on_stop: Callable[[], None] = lambda: None  # leave the fleet: nothing new is placed here
    children: dict[str, Child] = field(default_factory=dict)
    sigterms: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # ------------------------------------------------------------ one job

    def run(self, job_id: str) -> str:
        """Run one job to its end in its own process; returns what happened to it."""
        if self.sigterms:
            return "skipped"  # stopping: the scheduler places it elsewhere once we are offline
        if not place_here(self.settings, job_id, self.worker_id):
            log.info("job %s is not queued for this worker (claimed, cancelled, placed "
                     "elsewhere, or no free slot fits it): skipped", job_id)  # fmt: skip
            return "skipped"
        job = lifecycle.claim(self.settings, job_id, self.worker_id)
        if job is None:
            log.info("job %s is not queued (already claimed, cancelled or gone): skipped", job_id)
            return "skipped"
        try:
            try:
                child = self._start(job)
            except OSError as exc:  # no process could be started: hand the job back now
                log.exception("job %s: could not start its process", job_id)
                error = _error("JobProcessNotStarted", f"could not start the job process: {exc}")
                status = lifecycle.hand_back(
                    self.settings, job_id, FailureClass.infra_lost, error["message"], error
                )
                return str(status) if status is not None else lifecycle.LOST
            self._watch(child)
            return self._finish(child)
        finally:
            self.after_job()

    def _start(self, job: Job) -> Child:
        gpus = (job.placement or {}).get("gpus") or []
        env = dict(os.environ)
        env.update(
            CUDA_VISIBLE_DEVICES=",".join(str(i) for i in gpus),
            **{SETTINGS_ENV: self.settings.model_dump_json(), SUPERVISOR_ENV: str(os.getpid())},
        )
        args = [
            sys.executable,
            "-m",
            "worker.job_process",
            job.id,
            self.worker_id,
            str(job.attempt),
        ]
        popen = subprocess.Popen(args, env=env, start_new_session=True)
        child = Child(job.id, job.attempt, popen, memory_limit_mb(job, self.settings))
        with self._lock:
            self.children[job.id] = child
            forward = self.sigterms
        for _ in range(forward):  # a SIGTERM that came while it started
            _signal(child, signal.SIGTERM)
        log.info("job %s attempt %d: process %d, CUDA_VISIBLE_DEVICES=%r",
                 job.id, job.attempt, popen.pid, env["CUDA_VISIBLE_DEVICES"])  # fmt: skip
        return child

    def _watch(self, child: Child) -> None:
        next_beat = 0.0
        while child.popen.poll() is None:
            if time.monotonic() >= next_beat:
                self._beat(child)
                next_beat = time.monotonic() + self.settings.heartbeat_interval_s
            if child.memory_limit_mb is not None and child.killed_for_memory is None:
                used = resident_mb(child.popen.pid)
                if used > child.memory_limit_mb:
                    child.killed_for_memory = used
                    log.warning("job %s uses %.0f MiB > its limit %d MiB: stopping it as oom",
                                child.job_id, used, child.memory_limit_mb)  # fmt: skip
                    _kill_group(child)
            time.sleep(POLL_S)
        _kill_group(child)  # whatever it started dies with it

    def _beat(self, child: Child) -> None:
        """The job's heartbeat while its process lives: a job process importing torch for
        seconds before its own beats start is not taken for lost."""
        try:
            lifecycle.beat(self.settings, child.job_id, self.worker_id)
        except Exception:  # the job process beats too; the next tick tries again
            log.warning("heartbeat of job %s failed", child.job_id, exc_info=True)

    def _finish(self, child: Child) -> str:
        with self._lock:
            self.children.pop(child.job_id, None)
        code = child.popen.returncode
        if not lifecycle.still_running(self.settings, child.job_id, self.worker_id, child.attempt):
            return "ended"  # the job process recorded how it ended
        failure, error = self._classify(child, code)
        log.warning("job %s process exited (%s) without an outcome: %s", child.job_id, code,
                    error["message"])  # fmt: skip
        status = lifecycle.hand_back(self.settings, child.job_id, failure, error["message"], error)
        return str(status) if status is not None else lifecycle.LOST

    def _classify(self, child: Child, code: int) -> tuple[FailureClass, dict[str, Any]]:
        if child.killed_for_memory is not None:
            message = (
                f"resident memory {child.killed_for_memory:.0f} MiB exceeded the job's limit "
                f"of {child.memory_limit_mb} MiB"
            )
            return FailureClass.oom, {
                "type": "MemoryLimitExceeded",
                "message": message,
                "traceback": "",
            }
        how = f"killed by signal {-code}" if code < 0 else f"exited with status {code}"
        if self.sigterms:
            return FailureClass.preempted, _error(
                "Preempted", f"job process {how} while the worker stopped"
            )
        return FailureClass.infra_lost, _error("JobProcessDied", f"job process {how}")

    # ------------------------------------------------------------ stopping

    def on_worker_shutting_down(self, **kwargs: Any) -> None:
        """Celery's `worker_shutting_down`, in the main process on each SIGTERM: forward it."""
        if kwargs.get("how", "Warm") != "Warm":
            return
        with self._lock:
            self.sigterms += 1
            children = list(self.children.values())
        for child in children:
            _signal(child, signal.SIGTERM)
        if self.sigterms == 1:
            self.on_stop()
            log.warning("preemption requested: %d job process(es) checkpoint and go back to "
                        "the queue", len(children))  # fmt: skip
            return
        log.warning("second SIGTERM: job processes stop at once; exiting")
        threading.Thread(target=self._hard_exit, args=(children,), daemon=True).start()

    def _hard_exit(self, children: list[Child]) -> None:
        deadline = time.monotonic() + HARD_STOP_WAIT_S
        for child in children:
            try:
                child.popen.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                _kill_group(child)
        logging.shutdown()
        os._exit(HARD_STOP_EXIT)

    def install(self) -> None:
        from celery import signals

        signals.worker_shutting_down.connect(self.on_worker_shutting_down, weak=False)


def memory_limit_mb(job: Job, settings: Settings) -> int | None:
    """The spec's resources.memory_mb, else the server's JOB_MEMORY_LIMIT_MB (None: no limit)."""
    spec_limit = ((job.spec or {}).get("resources") or {}).get("memory_mb")
    return int(spec_limit) if spec_limit else settings.job_memory_limit_mb


def resident_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants, in MiB."""
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0.0
    total = 0
    for process in processes:
        try:
            total += process.memory_info().rss
        except psutil.Error:
            pass  # it just ended
    return total / 2**20


def _signal(child: Child, signum: int) -> None:
    try:
        child.popen.send_signal(signum)
    except ProcessLookupError:
        pass


def _kill_group(child: Child) -> None:
    try:
        os.killpg(child.popen.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    child.popen.wait()


def _error(type_: str, message: str) -> dict[str, Any]:
    return {"type": type_, "message": message, "traceback": ""}
