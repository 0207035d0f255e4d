"""A real Celery worker process on the real Redis broker runs jobs sent by `send_job`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from api.db.models import Job
from api.db.session import session_scope
from api.settings import Settings
from tests.conftest import create_pg_database, drop_pg_database
from tests.helpers_services import (
    REDIS_URL,
    ServiceProcess,
    service_env,
    start_worker,
    wait_for_status,
)
from tests.service_doubles import tiny_spec
from tests.worker.conftest import insert_job, worker_settings
from worker.dispatch import send_job


@pytest.fixture(scope="module")
def redis_settings(
    pg_template: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Settings]:
    # One database and one worker for the module: each test queues its own jobs.
    url = create_pg_database(template=pg_template)
    try:
        yield worker_settings(url, tmp_path_factory.mktemp("celery"), broker_url=REDIS_URL)
    finally:
        drop_pg_database(url)


@pytest.fixture(scope="module")
def worker(redis_settings: Settings) -> Iterator[ServiceProcess]:
    log_dir = Path(redis_settings.artifact_root).parent / "logs"
    with start_worker(service_env(redis_settings), log_dir) as proc:
        yield proc


def submit(settings: Settings, spec: dict) -> str:
    job_id = insert_job(settings.database_url, spec)
    send_job(job_id, settings)
    return job_id


def test_worker_runs_a_job_and_survives_a_failing_one(
    redis_settings: Settings, worker: ServiceProcess
) -> None:
    url = redis_settings.database_url
    ok = submit(redis_settings, tiny_spec(max_epochs=1))
    bad = submit(redis_settings, tiny_spec(max_epochs=1, module_params={"fail_at_step": 1}))
    after = submit(redis_settings, tiny_spec(max_epochs=1))

    assert wait_for_status(url, ok, {"succeeded", "failed"}, proc=worker) == "succeeded"
    assert wait_for_status(url, bad, {"succeeded", "failed"}, proc=worker) == "failed"
    assert wait_for_status(url, after, {"succeeded", "failed"}, proc=worker) == "succeeded"

    with session_scope(url) as s:
        jobs = {j: s.get(Job, j) for j in (ok, bad, after)}
        assert jobs[bad].failure_class == "user_error"
        assert jobs[bad].error["message"] == "boom at step 1"
        # One worker process ran all three, one after the other.
        assert len({job.worker_id for job in jobs.values()}) == 1
        assert jobs[ok].finished_at <= jobs[bad].started_at
        assert jobs[bad].finished_at <= jobs[after].started_at
    assert worker.alive()


def test_a_message_sent_twice_runs_the_job_once(
    redis_settings: Settings, worker: ServiceProcess
) -> None:
    job_id = submit(redis_settings, tiny_spec(max_epochs=1))
    send_job(job_id, redis_settings)
    marker = submit(redis_settings, tiny_spec(max_epochs=1))  # queued behind the duplicate
    url = redis_settings.database_url
    wait_for_status(url, marker, {"succeeded"}, proc=worker)
    with session_scope(url) as s:
        assert s.get(Job, job_id).attempt == 1
    assert "is not queued" in worker.log_text()
