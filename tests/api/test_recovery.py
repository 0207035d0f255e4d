"""The reaper and the outbox reconciler (api/db/recovery.py, api/services/recovery.py) on a
real PostgreSQL: who gets requeued, failed or cancelled, and that concurrent passes act once."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from api.db.jobs import transition_job
from api.db.models import Job, JobTransition, utcnow
from api.db.recovery import reap_lost_jobs
from api.db.session import session_scope
from api.services.recovery import recovery_pass, resend_undispatched
from api.settings import Settings
from tests.service_doubles import tiny_spec
from tests.worker.conftest import insert_job

TIMEOUT = 30.0


def running_job(url: str, *, beat_age_s: float, max_retries: int = 3, **fields: Any) -> str:
    """A job claimed by worker w1 whose last heartbeat was `beat_age_s` seconds ago."""
    job_id = insert_job(url, tiny_spec())
    beat = utcnow() - timedelta(seconds=beat_age_s)
    with session_scope(url) as s:
        transition_job(
            s, job_id, from_=["queued"], to="running", worker_id="w1", attempt=1,
            heartbeat_at=beat, max_retries=max_retries,
            attempts=[{"attempt": 1, "worker_id": "w1", "resumed_from": None}], **fields,
        )  # fmt: skip
    return job_id


def job(url: str, job_id: str) -> Job:
    with session_scope(url) as s:
        return s.get(Job, job_id)


def reap(url: str) -> list[str]:
    with session_scope(url) as s:
        return [j.id for j in reap_lost_jobs(s, utcnow(), TIMEOUT)]


def test_a_job_without_heartbeat_is_requeued_as_lost_and_a_beating_one_is_left(
    database_url: str,
) -> None:
    lost = running_job(database_url, beat_age_s=TIMEOUT + 5)
    alive = running_job(database_url, beat_age_s=1)

    assert reap(database_url) == [lost]

    got = job(database_url, lost)
    assert (got.status, got.failure_class, got.worker_id, got.dispatched_at) == (
        "queued", "infra_lost", None, None,
    )  # fmt: skip
    assert got.attempts[-1]["outcome"] == "infra_lost" and "ended_at" in got.attempts[-1]
    assert job(database_url, alive).status == "running"


def test_lost_jobs_fail_when_their_retries_are_used_up(database_url: str) -> None:
    used_up = running_job(database_url, beat_age_s=TIMEOUT + 5, max_retries=1)
    with session_scope(database_url) as s:  # an earlier attempt was lost already
        s.get(Job, used_up).attempts = [
            {"attempt": 1, "outcome": "infra_lost", "ended_at": "x"},
            {"attempt": 2, "worker_id": "w1"},
        ]
    reap(database_url)
    got = job(database_url, used_up)
    assert (got.status, got.failure_class) == ("failed", "infra_lost")
    assert "no heartbeat" in got.error["message"]


def test_preemptions_do_not_use_up_retries(database_url: str) -> None:
    job_id = running_job(database_url, beat_age_s=TIMEOUT + 5, max_retries=1)
    with session_scope(database_url) as s:
        s.get(Job, job_id).attempts = [
            {"attempt": 1, "outcome": "preempted", "ended_at": "x"},
            {"attempt": 2, "outcome": "preempted", "ended_at": "x"},
            {"attempt": 3, "worker_id": "w1"},
        ]
    reap(database_url)
    assert job(database_url, job_id).status == "queued"


def test_a_lost_job_whose_cancel_was_asked_for_ends_cancelled(database_url: str) -> None:
    job_id = running_job(database_url, beat_age_s=TIMEOUT + 5, cancel_requested=True)
    reap(database_url)
    assert job(database_url, job_id).status == "cancelled"


def test_concurrent_reapers_requeue_each_job_once(database_url: str) -> None:
    lost = [running_job(database_url, beat_age_s=TIMEOUT + 5) for _ in range(6)]
    start = threading.Barrier(4)
    results: list[list[str]] = []

    def reaper() -> None:
        start.wait()
        results.append(reap(database_url))

    threads = [threading.Thread(target=reaper) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)

    assert sorted(j for r in results for j in r) == sorted(lost)
    with session_scope(database_url) as s:
        requeues = s.scalars(
            select(JobTransition.job_id).where(
                JobTransition.job_id.in_(lost), JobTransition.to_status == "queued",
                JobTransition.from_status == "running",
            )
        ).all()  # fmt: skip
    assert sorted(requeues) == sorted(lost)


# ---------------------------------------------------------------- the outbox


def queued_job(url: str, *, age_s: float, dispatched_age_s: float | None = None) -> str:
    """A job the scheduler placed on worker w1 `age_s` ago (only placed jobs have a message)."""
    job_id = insert_job(url, tiny_spec())
    now = utcnow()
    with session_scope(url) as s:
        row = s.get(Job, job_id)
        row.updated_at = now - timedelta(seconds=age_s)
        row.placement = {"worker": "w1", "gpus": []}
        if dispatched_age_s is not None:
            row.dispatched_at = now - timedelta(seconds=dispatched_age_s)
    return job_id


def resend(url: str, dispatch: Any, probe: Any = None) -> list[str]:
    with session_scope(url) as s:
        return resend_undispatched(s, utcnow(), dispatch, grace_s=10, stale_after_s=60, probe=probe)


def test_jobs_never_sent_are_sent_after_the_grace_period(database_url: str) -> None:
    old = queued_job(database_url, age_s=20)
    fresh = queued_job(database_url, age_s=1)  # the API is sending it right now
    sent: list[str] = []
    assert resend(database_url, sent.append) == [old]
    assert sent == [old]
    assert job(database_url, old).dispatched_at is not None
    assert job(database_url, fresh).dispatched_at is None
    assert resend(database_url, sent.append) == []  # sent once, not on every pass


def test_stale_messages_are_resent_only_when_the_broker_lost_them(database_url: str) -> None:
    held = queued_job(database_url, age_s=100, dispatched_age_s=90)
    gone = queued_job(database_url, age_s=100, dispatched_age_s=90)
    asked: list[list[str]] = []

    def probe(job_ids: list[str]) -> set[str]:
        asked.append(sorted(job_ids))
        return {held}

    sent: list[str] = []
    assert resend(database_url, sent.append, probe) == [gone]
    assert asked == [sorted([held, gone])]
    assert resend(database_url, sent.append, probe) == []  # both re-stamped: asked again later


def test_a_failed_send_is_retried_on_the_next_pass(database_url: str) -> None:
    job_id = queued_job(database_url, age_s=20)

    def broken(_: str) -> None:
        raise ConnectionError("broker down")

    assert resend(database_url, broken) == []
    assert job(database_url, job_id).dispatched_at is None
    assert resend(database_url, lambda _: None) == [job_id]


def test_concurrent_reconcilers_send_each_job_once(database_url: str) -> None:
    jobs = [queued_job(database_url, age_s=20) for _ in range(6)]
    sent: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(4)

    def record(job_id: str) -> None:
        with lock:
            sent.append(job_id)

    def reconciler() -> None:
        start.wait()
        resend(database_url, record)

    threads = [threading.Thread(target=reconciler) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(sent) == sorted(jobs)


def test_a_pass_reaps_and_leaves_the_requeued_job_to_the_scheduler(settings: Settings) -> None:
    url = settings.database_url
    lost = running_job(url, beat_age_s=settings.heartbeat_timeout_s + 5)
    sent: list[str] = []
    report = recovery_pass(settings, sent.append)
    assert report.reaped == [lost] and sent == []  # unplaced: the scheduler places it anew
    got = job(url, lost)
    assert (got.status, got.placement, got.dispatched_at) == ("queued", None, None)


def test_an_unplaced_queued_job_is_never_sent_by_the_outbox(database_url: str) -> None:
    job_id = insert_job(database_url, tiny_spec())
    with session_scope(database_url) as s:
        s.get(Job, job_id).updated_at = utcnow() - timedelta(seconds=100)
    sent: list[str] = []
    assert resend(database_url, sent.append) == [] and sent == []
