"""api/db/jobs.py: every allowed and every forbidden status change, on PostgreSQL and SQLite."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select

from api.db.jobs import (
    ALLOWED_TRANSITIONS,
    IllegalTransition,
    TransitionError,
    transition_job,
)
from api.db.models import EventType, Job, JobEvent, JobStatus, JobTransition
from api.db.session import session_scope
from tests.service_doubles import tiny_spec
from tests.worker.conftest import insert_job

S = JobStatus
# How a job reaches each status along allowed edges (the worker's and the API's own paths).
PATH_TO = {
    S.queued: [],
    S.running: [S.running],
    S.cancelling: [S.running, S.cancelling],
    S.succeeded: [S.running, S.succeeded],
    S.failed: [S.running, S.failed],
    S.cancelled: [S.cancelled],
}
ALLOWED = sorted((a, b) for a, targets in ALLOWED_TRANSITIONS.items() for b in targets)
FORBIDDEN = sorted((a, b) for a, b in itertools.product(S, S) if b not in ALLOWED_TRANSITIONS[a])


@pytest.fixture(params=["database_url", "sqlite_url"], ids=["postgresql", "sqlite"])
def url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(request.param))


def job_in(url: str, status: JobStatus) -> str:
    job_id = insert_job(url, tiny_spec())
    with session_scope(url) as session:
        for to in PATH_TO[status]:
            job = session.get_one(Job, job_id)
            transition_job(session, job_id, from_=[job.status], to=to)
    return job_id


def history(url: str, job_id: str) -> tuple[JobStatus, list[tuple[str | None, str]], list[str]]:
    """(status, recorded transitions, event types) of the job."""
    with session_scope(url) as session:
        status = session.get_one(Job, job_id).status
        moves = session.execute(
            select(JobTransition.from_status, JobTransition.to_status)
            .where(JobTransition.job_id == job_id)
            .order_by(JobTransition.id)
        ).all()
        types = session.scalars(
            select(JobEvent.type).where(JobEvent.job_id == job_id).order_by(JobEvent.seq)
        ).all()
    return status, [tuple(m) for m in moves], list(types)


def test_the_table_names_every_status() -> None:
    assert set(ALLOWED_TRANSITIONS) == set(S)
    assert all(not ALLOWED_TRANSITIONS[s] for s in S if s.is_terminal)
    assert len(ALLOWED) + len(FORBIDDEN) == len(S) ** 2


@pytest.mark.parametrize(("from_", "to"), ALLOWED, ids=[f"{a}->{b}" for a, b in ALLOWED])
def test_an_allowed_transition_is_made_and_recorded(url: str, from_: S, to: S) -> None:
    job_id = job_in(url, from_)
    before = history(url, job_id)
    with session_scope(url) as session:
        job = transition_job(session, job_id, from_=[from_], to=to, reason="test", attempt=9)
        assert (job.status, job.attempt) == (to, 9)
    status, moves, types = history(url, job_id)
    assert status == to and isinstance(status, JobStatus)
    assert moves == [*before[1], (from_, to)]
    ending = [EventType.end] if to.is_terminal else []
    assert types == [*before[2], EventType.status, *ending]
    with session_scope(url) as session:
        finished = session.get_one(Job, job_id).finished_at
    assert (finished is not None) == to.is_terminal


@pytest.mark.parametrize(("from_", "to"), FORBIDDEN, ids=[f"{a}->{b}" for a, b in FORBIDDEN])
def test_a_forbidden_transition_is_refused_and_changes_nothing(url: str, from_: S, to: S) -> None:
    job_id = job_in(url, from_)
    before = history(url, job_id)
    with session_scope(url) as session, pytest.raises(IllegalTransition):
        transition_job(session, job_id, from_=[from_], to=to)
    assert history(url, job_id) == before


def test_a_job_in_another_state_is_not_moved(url: str) -> None:
    job_id = job_in(url, S.running)
    before = history(url, job_id)
    with session_scope(url) as session, pytest.raises(TransitionError) as raised:
        transition_job(session, job_id, from_=[S.queued], to=S.running)
    assert (raised.value.actual, raised.value.expected) == (S.running, (S.queued,))
    assert history(url, job_id) == before


def test_a_missing_job_is_a_lookup_error(url: str) -> None:
    with session_scope(url) as session, pytest.raises(LookupError):
        transition_job(session, "0" * 32, from_=[S.queued], to=S.running)
