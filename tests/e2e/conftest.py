"""Running stacks for end-to-end tests: a uvicorn API and a Celery worker, as real processes.

- `pg_stack` (session): PostgreSQL + Redis (a queue of its own), shared by the tests of a
  session; each test makes its own project, so tests see only their own jobs.
- `embedded_stack` (module): SQLite + the filesystem broker, what `make run` uses.

A `Stack` gives `client(project)` (an httpx client with a fresh project's token), `settings`,
`env`, and the `api`/`worker` ServiceProcess objects (kill/terminate them for fault tests;
`restart_worker()` starts a fresh one).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.db.session import get_engine
from api.settings import Settings
from tests.conftest import create_pg_database, drop_pg_database, issue_token
from tests.helpers_services import (
    REDIS_URL,
    ServiceProcess,
    launch_api,
    launch_worker,
    service_env,
    unique_queue,
)
from tests.service_doubles import COMPONENT_MODULE

TERMINAL = {"succeeded", "failed", "cancelled"}


@dataclass
class Stack:
    settings: Settings
    env: dict[str, str]
    log_dir: Path
    api: ServiceProcess
    worker: ServiceProcess
    clients: list[httpx.Client] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.api.url

    def client(self, project: str | None = None) -> httpx.Client:
        """A client authorised as a new token of `project` (a fresh project by default)."""
        token = issue_token(self.settings.database_url, project or f"e2e-{uuid.uuid4().hex[:8]}")
        client = httpx.Client(base_url=self.url, headers=token.headers, timeout=30)
        self.clients.append(client)
        return client

    def restart_worker(self) -> ServiceProcess:
        self.worker.terminate(timeout=5)
        self.worker = launch_worker(self.env, self.log_dir)
        return self.worker

    def close(self) -> None:
        for client in self.clients:
            client.close()
        self.worker.terminate(timeout=5)
        self.api.terminate(timeout=10)

    def logs(self) -> str:
        return f"--- api ---\n{self.api.log_text()[-3000:]}\n--- worker ---\n{self.worker.log_text()[-5000:]}"


def make_settings(database_url: str, broker_url: str, root: Path) -> Settings:
    return Settings(
        database_url=database_url,
        broker_url=broker_url,
        broker_folder=root / "broker",
        queue_name=unique_queue(),
        artifact_root=str(root / "artifacts"),
        component_modules=[COMPONENT_MODULE],
        heartbeat_interval_s=1.0,
    )


def start_stack(settings: Settings, root: Path) -> Stack:
    env = service_env(settings)
    log_dir = root / "logs"
    worker = launch_worker(env, log_dir)
    try:
        api = launch_api(env, log_dir)
    except BaseException:
        worker.terminate(timeout=5)
        raise
    return Stack(settings, env, log_dir, api, worker)


@pytest.fixture(scope="session")
def pg_stack(pg_template: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    url = create_pg_database(template=pg_template, prefix="t_e2e_")
    root = tmp_path_factory.mktemp("pg_stack")
    stack = start_stack(make_settings(url, REDIS_URL, root), root)
    try:
        yield stack
    finally:
        stack.close()
        drop_pg_database(url)


@pytest.fixture(scope="module")
def embedded_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    from api.db import migrate

    root = tmp_path_factory.mktemp("embedded_stack")
    url = f"sqlite:///{root / 'trainyard.sqlite'}"
    migrate.upgrade(url)
    stack = start_stack(make_settings(url, "filesystem://", root), root)
    try:
        yield stack
    finally:
        stack.close()
        get_engine(url).dispose()


def wait_job(
    client: httpx.Client, job_id: str, stack: Stack, until: Any = None, timeout: float = 120
) -> dict[str, Any]:
    """Poll GET /v1/jobs/{id} until `until(job)` (default: a terminal status)."""
    until = until or (lambda job: job["status"] in TERMINAL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = client.get(f"/v1/jobs/{job_id}")
        assert response.status_code == 200, response.text
        job = response.json()
        if until(job):
            return job
        assert stack.worker.alive(), stack.logs()
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} timed out; last seen {job}\n{stack.logs()}")
