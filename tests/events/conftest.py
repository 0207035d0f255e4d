"""Event-stream fixtures: the real app under a real uvicorn (in a thread), on two stacks.

- `stack` (param): "postgres+redis" (announcements over Redis pub/sub, db 7) or "sqlite+poll"
  (the embedded default: no Redis, the API polls).
- `settings`: Settings of that stack; this process announces the events it commits, as a
  worker does (`notify.install`).
- `server`: a `LiveServer` (url, app) serving `create_app(settings)`.
- `job_writer`: `job_writer()` makes a running job of `project_token`'s project and returns a
  `JobWriter` that appends events the way the worker does (row lock, seq, commit, announce).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI

from api import notify
from api.db.jobs import append_events, insert_job, lock_job, transition_job
from api.db.models import JobEvent, JobStatus
from api.db.session import session_scope
from api.main import create_app
from api.settings import Settings
from tests.conftest import ProjectToken
from tests.helpers_services import free_port

REDIS_URL = os.environ.get("TRAINYARD_TEST_EVENTS_REDIS_URL", "redis://127.0.0.1:6379/7")


@pytest.fixture(params=["postgres+redis", "sqlite+poll"])
def stack(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(stack: str, request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("pg_url" if stack == "postgres+redis" else "sqlite_url"))


@pytest.fixture
def settings(database_url: str, stack: str, tmp_path: Path) -> Settings:
    settings = Settings(
        database_url=database_url,
        artifact_root=str(tmp_path / "artifacts"),
        broker_url="filesystem://",
        broker_folder=tmp_path / "broker",
        redis_url=REDIS_URL if stack == "postgres+redis" else None,
    )
    notify.install(settings)
    return settings


class LiveServer:
    """uvicorn serving `app` on a free port in a background thread.

    `graceful_s` bounds uvicorn's wait for open responses (None: wait for them all, as a test
    that the streams end by themselves needs).
    """

    def __init__(self, app: FastAPI, port: int | None = None, graceful_s: int | None = 3) -> None:
        self.app = app
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            timeout_graceful_shutdown=graceful_s,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "uvicorn did not start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.app.state.event_hub.close_streams()
        self.server.should_exit = True
        self.thread.join(timeout=30)
        assert not self.thread.is_alive(), "uvicorn did not stop"


@pytest.fixture
def server(settings: Settings) -> Iterator[LiveServer]:
    with LiveServer(create_app(settings, dispatcher=lambda job_id: None)) as live:
        yield live


class JobWriter:
    """Appends events to one job as the worker does: under the row lock, committed, announced."""

    def __init__(self, database_url: str, job_id: str) -> None:
        self.database_url, self.job_id = database_url, job_id

    def append(self, events: list[tuple[str, dict[str, Any]]]) -> None:
        with session_scope(self.database_url) as session:
            job = lock_job(session, self.job_id)
            assert job is not None
            append_events(session, job, events)

    def metrics(self, start: int, count: int) -> None:
        self.append(
            [("metric", {"name": "loss", "stage": "train", "step": s, "value": 1 / (s + 1)})
             for s in range(start, start + count)]
        )  # fmt: skip

    def finish(self, status: JobStatus = JobStatus.succeeded) -> None:
        with session_scope(self.database_url) as session:
            transition_job(session, self.job_id, from_=[JobStatus.running], to=status)

    def stored(self) -> list[tuple[int, str, dict[str, Any]]]:
        with session_scope(self.database_url) as session:
            rows = session.query(JobEvent).filter(JobEvent.job_id == self.job_id)
            return [(e.seq, e.type, e.data) for e in rows.order_by(JobEvent.seq)]


@pytest.fixture
def job_writer(
    database_url: str, project_token: ProjectToken, settings: Settings
) -> Callable[[], JobWriter]:
    def make() -> JobWriter:
        with session_scope(database_url) as session:
            job = insert_job(
                session, project_id=project_token.project_id, spec={}, name="events-test"
            )
            session.flush()
            transition_job(session, job.id, from_=[JobStatus.queued], to=JobStatus.running)
            job_id = job.id
        return JobWriter(database_url, job_id)

    return make
