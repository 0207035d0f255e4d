"""A job's message is acknowledged when a worker starts the job, so Redis never re-delivers it.

Redis hands an unacknowledged message out again once it is older than the visibility timeout
(an hour by default): with acknowledgement at the end of the task, every job longer than that
went to a second worker while the first still trained it. Here the timeout is 1 s, and an idle
second worker looks for such messages every second, as any consumer of the broker does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from api.db.models import Job, JobTransition
from api.db.session import session_scope
from api.settings import Settings
from tests.conftest import create_pg_database, drop_pg_database
from tests.helpers_services import (
    REDIS_URL,
    ServiceProcess,
    service_env,
    start_worker,
    unique_queue,
    wait_for_status,
)
from tests.service_doubles import tiny_spec
from tests.worker.conftest import insert_job, worker_settings
from tests.worker.test_runner import wait_for_step
from worker.dispatch import broker_holds, send_job

VISIBILITY_TIMEOUT_S = 1


def short_visibility(queue: str) -> dict[str, int | str]:
    # Keys of our own: the default ones are shared by every queue of this Redis database, and
    # a 1 s timeout must not restore other test runs' messages.
    return {
        "visibility_timeout": VISIBILITY_TIMEOUT_S,
        "unacked_restore_interval": 1,
        "unacked_restore_throttle": 1,
        "unacked_key": f"{queue}.unacked",
        "unacked_index_key": f"{queue}.unacked_index",
        "unacked_mutex_key": f"{queue}.unacked_mutex",
    }


@pytest.fixture
def redis_settings(pg_template: str, tmp_path: Path) -> Iterator[Settings]:
    url = create_pg_database(template=pg_template)
    queue = unique_queue()
    try:
        yield worker_settings(
            url,
            tmp_path,
            broker_url=REDIS_URL,
            queue_name=queue,
            broker_transport_options=short_visibility(queue),
        )
    finally:
        drop_pg_database(url)


@pytest.fixture
def two_workers(redis_settings: Settings, tmp_path: Path) -> Iterator[list[ServiceProcess]]:
    env = service_env(
        redis_settings,
        BROKER_TRANSPORT_OPTIONS=json.dumps(redis_settings.broker_transport_options),
    )
    with (
        start_worker(env, tmp_path / "logs") as first,
        start_worker(env, tmp_path / "logs") as second,
    ):
        yield [first, second]


def test_a_job_longer_than_the_visibility_timeout_is_delivered_once(
    redis_settings: Settings, two_workers: list[ServiceProcess]
) -> None:
    # 8 steps of 0.5 s: the job outlives the timeout and several restore passes.
    spec = tiny_spec(max_epochs=2, module_params={"sleep_s": 0.5})
    job_id = insert_job(redis_settings.database_url, spec)
    send_job(job_id, redis_settings)

    # Step 4 is past 1.5 s of training: the timeout has expired and the idle worker has looked.
    wait_for_step(redis_settings, job_id, 4)
    assert broker_holds([job_id], redis_settings) == set()  # acked: nothing left to re-deliver

    url = redis_settings.database_url
    status = wait_for_status(url, job_id, {"succeeded", "failed"}, proc=two_workers[0])
    logs = "\n".join(worker.log_text() for worker in two_workers)
    assert status == "succeeded", logs
    with session_scope(url) as s:
        job = s.get(Job, job_id)
        claims = s.scalars(
            select(JobTransition).where(
                JobTransition.job_id == job_id, JobTransition.to_status == "running"
            )
        ).all()
        assert (job.attempt, len(job.attempts), len(claims)) == (1, 1, 1)
    # Each delivery of the message is one task run; only one ever started.
    assert len(re.findall(r"Task trainyard.run_job\[[^\]]+\] received", logs)) == 1, logs
    assert f"job {job_id} is not queued" not in logs
