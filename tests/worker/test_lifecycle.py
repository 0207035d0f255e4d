"""worker/lifecycle.py and the Preemption object, without training: the database side of a
job's life (claim, heartbeat, finish, hand back, re-send) on a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

from api.db.jobs import transition_job
from api.db.models import FailureClass, Job, JobStatus
from api.db.session import session_scope
from api.settings import Settings
from tests.service_doubles import tiny_spec
from worker import lifecycle
from worker.lifecycle import Outcome
from worker.preemption import HARD_STOP_EXIT, Preemption


def row(settings: Settings, job_id: str) -> Job:
    with session_scope(settings.database_url) as session:
        return session.get_one(Job, job_id)


def test_a_job_is_claimed_once(settings: Settings, queue_job: Callable[..., str]) -> None:
    job_id = queue_job(tiny_spec())
    first = lifecycle.claim(settings, job_id, "w1")
    assert first is not None and (first.status, first.attempt) == (JobStatus.running, 1)
    assert lifecycle.claim(settings, job_id, "w2") is None  # a duplicate message: skipped
    assert row(settings, job_id).worker_id == "w1"


def test_the_heartbeat_says_whose_job_it_is(
    settings: Settings, queue_job: Callable[..., str]
) -> None:
    job_id = queue_job(tiny_spec())
    lifecycle.claim(settings, job_id, "w1")
    assert lifecycle.beat(settings, job_id, "w1")
    assert not lifecycle.beat(settings, job_id, "w2")
    lifecycle.hand_back(settings, job_id, FailureClass.infra_lost, "lost")
    assert not lifecycle.beat(settings, job_id, "w1")  # requeued: no longer w1's


def test_a_handed_back_job_is_sent_once(settings: Settings, queue_job: Callable[..., str]) -> None:
    job_id = queue_job(tiny_spec())
    lifecycle.claim(settings, job_id, "w1")
    sent: list[str] = []
    outcome = Outcome(JobStatus.queued, {"failure_class": FailureClass.preempted}, "preempted")
    assert lifecycle.end(settings, job_id, outcome, sent.append) == "queued"
    assert sent == [job_id]
    assert not lifecycle.resend(settings, job_id, sent.append)  # already on its way
    assert sent == [job_id]
    job = row(settings, job_id)
    assert (job.failure_class, job.worker_id, job.attempts[-1]["outcome"]) == (
        "preempted",
        None,
        "preempted",
    )


def test_a_failed_send_is_left_to_the_reconciler(
    settings: Settings, queue_job: Callable[..., str]
) -> None:
    job_id = queue_job(tiny_spec())
    lifecycle.claim(settings, job_id, "w1")
    lifecycle.hand_back(settings, job_id, FailureClass.oom, "oom")

    def broken(_: str) -> None:
        raise ConnectionError("broker down")

    assert not lifecycle.resend(settings, job_id, broken)
    assert row(settings, job_id).dispatched_at is None  # the outbox sees it again
    assert lifecycle.resend(settings, job_id, lambda _: None)


def test_a_cancel_wins_over_success_and_a_lost_job_is_not_written(
    settings: Settings, queue_job: Callable[..., str]
) -> None:
    cancelled, reaped = queue_job(tiny_spec()), queue_job(tiny_spec())
    for job_id in (cancelled, reaped):
        lifecycle.claim(settings, job_id, "w1")
    with session_scope(settings.database_url) as session:
        transition_job(
            session,
            cancelled,
            from_=[JobStatus.running],
            to=JobStatus.cancelling,
            cancel_requested=True,
        )
    assert lifecycle.end(settings, cancelled, Outcome(JobStatus.succeeded), print) == "cancelled"
    lifecycle.hand_back(settings, reaped, FailureClass.infra_lost, "reaped")
    assert lifecycle.end(settings, reaped, Outcome(JobStatus.succeeded), print) == "lost"
    assert row(settings, reaped).status == JobStatus.queued


def test_a_hard_stop_hands_the_running_job_back_and_exits(
    settings: Settings, queue_job: Callable[..., str]
) -> None:
    job_id = queue_job(tiny_spec())
    lifecycle.claim(settings, job_id, "w1")
    exits: list[int] = []
    sent: list[str] = []
    preemption = Preemption(exit_process=exits.append)
    with preemption.running(job_id, settings, sent.append):
        preemption.request()
        assert preemption.requested() and exits == []
        preemption.request()  # the second SIGTERM
    assert exits == [HARD_STOP_EXIT]
    assert sent == [job_id]
    assert (row(settings, job_id).status, row(settings, job_id).failure_class) == (
        JobStatus.queued,
        "preempted",
    )
