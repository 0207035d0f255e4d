"""Fault tests: real API and worker processes on PostgreSQL and Redis, and real faults.

`fault_stack` (session, shared by the fault tests): a fresh PostgreSQL database, a queue of its own on the shared Redis, an
API process whose recovery loop runs every 0.5 s with a 3 s heartbeat timeout, and workers
started on demand (`stack.ensure_workers(2)`), which tests kill (-9) or stop (SIGTERM).
The Redis test starts a redis-server of its own (`redis_server`).
"""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from api.settings import Settings
from tests.conftest import create_pg_database, drop_pg_database, issue_token
from tests.helpers_services import (
    READY_TIMEOUT_S,
    REDIS_URL,
    ServiceProcess,
    _spawn,
    free_port,
    launch_api,
    service_env,
    unique_queue,
    wait_until,
)
from tests.service_doubles import COMPONENT_MODULE

TERMINAL = {"succeeded", "failed", "cancelled"}


def fault_settings(database_url: str, broker_url: str, root: Path) -> Settings:
    return Settings(
        database_url=database_url,
        broker_url=broker_url,
        broker_folder=root / "broker",
        queue_name=unique_queue(),
        artifact_root=str(root / "artifacts"),
        component_modules=[COMPONENT_MODULE],
        heartbeat_interval_s=0.5,
        heartbeat_timeout_s=3.0,  # a killed worker's job is declared lost within seconds
        recovery_interval_s=0.5,
        dispatch_grace_s=2.0,
        redispatch_after_s=3.0,
        preempt_grace_s=30.0,
    )


def start_workers(env: dict[str, str], log_dir: Path, count: int) -> list[ServiceProcess]:
    """`count` workers started side by side (each imports torch: slow on this machine)."""
    procs = [_spawn("worker", ["worker", "--concurrency=1"], env, log_dir) for _ in range(count)]
    for proc in procs:
        wait_until(lambda p=proc: " ready." in p.log_text(), READY_TIMEOUT_S, "a worker", proc)
    return procs


@dataclass
class FaultStack:
    settings: Settings
    env: dict[str, str]
    log_dir: Path
    api: ServiceProcess
    workers: list[ServiceProcess] = field(default_factory=list)
    clients: list[httpx.Client] = field(default_factory=list)

    def ensure_workers(self, count: int) -> None:
        self.workers = [w for w in self.workers if w.alive()]
        missing = count - len(self.workers)
        if missing > 0:
            self.workers += start_workers(self.env, self.log_dir, missing)

    def client(self) -> httpx.Client:
        token = issue_token(self.settings.database_url, f"fault-{uuid.uuid4().hex[:8]}")
        client = httpx.Client(base_url=self.api.url, headers=token.headers, timeout=30)
        self.clients.append(client)
        return client

    def worker_running(self, job: dict[str, Any]) -> ServiceProcess:
        """The worker process whose id the job row names."""
        pid = int(str(job["attempts"][-1]["worker_id"]).rpartition(":")[2])
        return next(w for w in self.workers if w.pid == pid)

    def restart_api(self) -> int | None:
        """Stop the API (SIGTERM) and start a new one on the same port; the old one's exit code.

        uvicorn re-raises the SIGTERM once it has shut down, so a clean stop is -SIGTERM; a
        -SIGKILL means it did not stop within the timeout and was killed.
        """
        port = int(self.api.url.rpartition(":")[2])
        returncode = self.api.terminate(timeout=10)
        self.api = launch_api(self.env, self.log_dir, port=port)
        return returncode

    def logs(self) -> str:
        parts = [f"--- api ---\n{self.api.log_text()[-3000:]}"]
        parts += [f"--- worker {w.pid} ---\n{w.log_text()[-4000:]}" for w in self.workers]
        return "\n".join(parts)

    def close(self) -> None:
        for client in self.clients:
            client.close()
        for worker in self.workers:
            worker.terminate(timeout=5)
        self.api.terminate(timeout=10)


def start_stack(settings: Settings, root: Path) -> FaultStack:
    env = service_env(settings)
    log_dir = root / "logs"
    return FaultStack(settings, env, log_dir, launch_api(env, log_dir))


@pytest.fixture(scope="session")
def fault_stack(pg_template: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultStack]:
    url = create_pg_database(template=pg_template, prefix="t_fault_")
    root = tmp_path_factory.mktemp("faults")
    stack = start_stack(fault_settings(url, REDIS_URL, root), root)
    try:
        yield stack
    finally:
        stack.close()
        drop_pg_database(url)


def submit(client: httpx.Client, spec: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/v1/jobs", json=spec)
    assert response.status_code == 201, response.text
    return response.json()


def wait_job(
    client: httpx.Client, job_id: str, stack: FaultStack, until: Any = None, timeout: float = 120
) -> dict[str, Any]:
    """Poll GET /v1/jobs/{id} until `until(job)` (default: a terminal status)."""
    until = until or (lambda job: job["status"] in TERMINAL)
    deadline = time.monotonic() + timeout
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        try:
            response = client.get(f"/v1/jobs/{job_id}")
        except httpx.TransportError:  # the API is restarting
            time.sleep(0.2)
            continue
        assert response.status_code == 200, response.text
        job = response.json()
        if until(job):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} timed out; last seen {job}\n{stack.logs()}")


def metric_steps(client: httpx.Client, job_id: str, name: str = "train_loss") -> list[int]:
    """Every stored step of one metric, in order (all pages)."""
    steps: list[int] = []
    cursor = None
    while True:
        params = {"name": name, "limit": 1000, **({"cursor": cursor} if cursor else {})}
        page = client.get(f"/v1/jobs/{job_id}/metrics", params=params).json()
        steps += [point["step"] for point in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return steps


# ---------------------------------------------------------------- a Redis of the test's own


@dataclass
class RedisServer:
    port: int
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        # No snapshot, no append-only file: a restart loses every message, as a crash would.
        args = ["redis-server", "--port", str(self.port), "--save", "", "--appendonly", "no"]
        with open(self.log_path, "ab") as out:
            self.popen = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
        wait_until(self._pong, 10, f"redis-server on port {self.port}")

    def _pong(self) -> bool:
        try:
            return bool(redis.Redis(port=self.port, socket_timeout=1).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.terminate()
            self.popen.wait(10)
        self.popen = None


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed (apt-get install redis-server)")
    server = RedisServer(free_port(), tmp_path / "redis.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()
