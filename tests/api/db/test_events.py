"""Event sequence numbers (api/db/jobs.py append_event[s]) under concurrent writers."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from api.db.jobs import append_events, lock_job
from api.db.models import EventType, JobEvent
from api.db.session import session_scope
from tests.service_doubles import tiny_spec
from tests.worker.conftest import insert_job

WRITERS = 4
BATCHES = 15


@pytest.fixture(params=["database_url", "sqlite_url"], ids=["postgresql", "sqlite"])
def url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(request.param))


def test_concurrent_writers_get_distinct_consecutive_seqs(url: str) -> None:
    """The worker's sync thread, its checkpoint writer and the API's cancel all append events to
    one job at once. Each takes the job's row lock first; on SQLite that lock must be SQLite's
    write lock too, or two writers read the same max(seq) and one fails on the unique index
    (the `UNIQUE constraint failed: job_events.job_id, job_events.seq` of a resumed attempt)."""
    job_id = insert_job(url, tiny_spec())
    failures: list[BaseException] = []
    start = threading.Barrier(WRITERS)

    def writer(n: int) -> None:
        start.wait()
        for i in range(BATCHES):
            try:
                with session_scope(url) as session:
                    job = lock_job(session, job_id)
                    assert job is not None
                    append_events(session, job, [(EventType.log, {"line": f"{n}-{i}"})] * 2)
            except Exception as exc:  # noqa: BLE001 - every failure is reported below
                failures.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(t.is_alive() for t in threads)
    assert failures == [], failures[:3]
    with session_scope(url) as session:
        seqs = list(session.scalars(select(JobEvent.seq).where(JobEvent.job_id == job_id)))
    written = WRITERS * BATCHES * 2
    assert sorted(seqs)[-written:] == list(range(len(seqs) - written + 1, len(seqs) + 1))
    assert len(set(seqs)) == len(seqs)
