"""Real service processes for tests: API servers and Celery workers as subprocesses.

Reused by the worker, e2e and fault tests (kill -9 a worker, restart the API):

    env = service_env(settings)                    # the settings as environment variables
    with start_worker(env, tmp_path) as worker:    # `python -m trainyard worker`, ready to consume
        ...worker.kill() / worker.terminate() / worker.pid
    with start_api(env, tmp_path) as api:          # `python -m trainyard serve` on a free port
        httpx.get(f"{api.url}/health")

Output goes to a log file per process; `proc.log_text()` reads it (assertion messages use it).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from api.db.models import Job
from api.db.session import session_scope
from api.settings import Settings

REPO_ROOT = Path(__file__).resolve().parents[1]
REDIS_URL = os.environ.get("TRAINYARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/11")
READY_TIMEOUT_S = 90.0  # a cold worker imports torch; the machine is shared and slow


def unique_queue() -> str:
    """A queue no other test run consumes (several engineers share one Redis)."""
    return f"ty-test-{uuid.uuid4().hex[:12]}"


def service_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment that makes a subprocess read `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "BROKER_"))}
    env.update(
        DATABASE_URL=settings.database_url,
        BROKER_URL=settings.broker_url,
        BROKER_FOLDER=str(settings.broker_folder),
        QUEUE_NAME=settings.queue_name,
        ARTIFACT_ROOT=str(settings.artifact_root),
        COMPONENT_MODULES=json.dumps(list(settings.component_modules)),
        HEARTBEAT_INTERVAL_S=str(settings.heartbeat_interval_s),
        HEARTBEAT_TIMEOUT_S=str(settings.heartbeat_timeout_s),
        RECOVERY_INTERVAL_S=str(settings.recovery_interval_s),
        DISPATCH_GRACE_S=str(settings.dispatch_grace_s),
        REDISPATCH_AFTER_S=str(settings.redispatch_after_s),
        PREEMPT_GRACE_S=str(settings.preempt_grace_s),
        PYTHONPATH=os.pathsep.join([str(REPO_ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        PYTHONUNBUFFERED="1",
        OMP_NUM_THREADS="1",  # two cores, several processes: no thread oversubscription
    )
    if settings.redis_url:
        env["REDIS_URL"] = settings.redis_url
    env.update(extra)
    return env


@dataclass
class ServiceProcess:
    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    url: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL: the machine died."""
        if self.alive():
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait(10)

    def terminate(self, timeout: float = 20.0) -> int | None:
        """SIGTERM (a warm shutdown), then SIGKILL if it lingers; returns the exit code."""
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.popen.returncode


def _spawn(name: str, args: list[str], env: dict[str, str], log_dir: Path) -> ServiceProcess:
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}-{uuid.uuid4().hex[:6]}.log"
    with open(log_path, "wb") as out:
        popen = subprocess.Popen(
            [sys.executable, "-m", "trainyard", *args],
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C on the test run is not also sent to it
        )
    return ServiceProcess(name, popen, log_path)


def wait_until(
    check: Callable[[], Any], timeout: float, what: str, proc: ServiceProcess | None = None
) -> Any:
    """Poll `check` until it returns something truthy; fail with `what` (and the log) if not."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        if proc is not None and not proc.alive():
            raise AssertionError(f"{proc.name} exited while waiting for {what}:\n{proc.log_text()}")
        time.sleep(0.1)
    tail = proc.log_text()[-4000:] if proc else ""
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n{tail}")


def launch_worker(env: dict[str, str], log_dir: Path, concurrency: int = 1) -> ServiceProcess:
    proc = _spawn("worker", ["worker", f"--concurrency={concurrency}"], env, log_dir)
    wait_until(
        lambda: " ready." in proc.log_text(), READY_TIMEOUT_S, "the worker to be ready", proc
    )
    return proc


@contextmanager
def start_worker(
    env: dict[str, str], log_dir: Path, concurrency: int = 1
) -> Iterator[ServiceProcess]:
    proc = launch_worker(env, log_dir, concurrency)
    try:
        yield proc
    finally:
        proc.terminate(timeout=5)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def launch_api(env: dict[str, str], log_dir: Path, port: int | None = None) -> ServiceProcess:
    port = port or free_port()
    proc = _spawn(
        "api", ["serve", "--host=127.0.0.1", f"--port={port}", "--log-level=warning"], env, log_dir
    )
    proc.url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        try:
            return httpx.get(f"{proc.url}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(healthy, READY_TIMEOUT_S, "the API to answer /health", proc)
    return proc


@contextmanager
def start_api(
    env: dict[str, str], log_dir: Path, port: int | None = None
) -> Iterator[ServiceProcess]:
    proc = launch_api(env, log_dir, port)
    try:
        yield proc
    finally:
        proc.terminate(timeout=10)


def job_status(database_url: str, job_id: str) -> str:
    with session_scope(database_url) as session:
        job = session.get(Job, job_id)
        return job.status if job is not None else "missing"


def wait_for_status(
    database_url: str,
    job_id: str,
    statuses: set[str],
    timeout: float = 120.0,
    proc: ServiceProcess | None = None,
) -> str:
    """Wait until the job's row is in one of `statuses` (read from the database directly)."""
    found = wait_until(
        lambda: (s := job_status(database_url, job_id)) in statuses and s,
        timeout,
        f"job {job_id} to reach {sorted(statuses)}",
        proc,
    )
    return str(found)
