"""The recovery loop: reap lost jobs and re-send lost broker messages.

It runs in the API process (started by the app's lifespan), every `recovery_interval_s`: the
API is always up where jobs are submitted (embedded mode and compose alike), and the database
decisions below are safe when several API processes run it at once. One pass:

1. `reap_lost_jobs`: a running job whose heartbeat is older than `heartbeat_timeout_s` is
   declared lost (infra_lost) and requeued as a new attempt (its worker slots freed), which
   the scheduler places again and which resumes from its latest checkpoint; after
   `max_retries` such losses it fails.
2. `resend_undispatched`: the outbox. Placed jobs never sent (older than `dispatch_grace_s`), and
   placed jobs sent more than `redispatch_after_s` ago whose message the broker no longer holds
   (Redis restarted empty), are sent again. Running a job twice at once is impossible whatever
   is sent twice: the worker's claim is a row-locked `queued -> running`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from api.db.models import utcnow
from api.db.recovery import reap_lost_jobs, resend_job, take_for_dispatch, undispatched_jobs
from api.db.session import session_scope
from api.settings import Settings

log = logging.getLogger("trainyard.recovery")

Dispatcher = Callable[[str], None]
# Which of the given job ids the broker holds a message for; None when it cannot tell.
BrokerProbe = Callable[[list[str]], set[str] | None]

__all__ = ["reap_lost_jobs", "resend_undispatched", "recovery_pass", "run_recovery"]


@dataclass
class PassReport:
    reaped: list[str] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)


def resend_undispatched(
    session: Session,
    now: datetime,
    dispatch: Dispatcher,
    *,
    grace_s: float,
    stale_after_s: float,
    probe: BrokerProbe | None = None,
) -> list[str]:
    """Send the queued jobs whose message is missing; returns the ids sent."""
    candidates = undispatched_jobs(session, now, grace_s=grace_s, stale_after_s=stale_after_s)
    stale = [job_id for job_id, at in candidates if at is not None]
    held = _ask_broker(probe, stale) if stale else set()
    sent = []
    for job_id, seen in candidates:
        if held is not None and job_id in held:
            # Still waiting in the broker (all workers busy): look again a period later.
            take_for_dispatch(session, job_id, seen, now)
            continue
        if resend_job(session, job_id, seen, dispatch):
            sent.append(job_id)
    return sent


def _ask_broker(probe: BrokerProbe | None, job_ids: list[str]) -> set[str] | None:
    if probe is None:
        return None
    try:
        return probe(job_ids)
    except Exception:
        log.warning("could not list the broker's messages; re-sending on age", exc_info=True)
        return None


def recovery_pass(
    settings: Settings, dispatch: Dispatcher, probe: BrokerProbe | None = None
) -> PassReport:
    report = PassReport()
    with session_scope(settings.database_url) as session:
        for job in reap_lost_jobs(session, utcnow(), settings.heartbeat_timeout_s):
            log.warning("job %s lost its worker: now %s", job.id, job.status)
            report.reaped.append(job.id)
        report.sent += resend_undispatched(
            session,
            utcnow(),
            dispatch,
            grace_s=settings.dispatch_grace_s,
            stale_after_s=settings.redispatch_after_s,
            probe=probe,
        )
    if report.sent:
        log.info("re-sent jobs %s", ", ".join(report.sent))
    return report


def default_probe(settings: Settings) -> BrokerProbe | None:
    try:
        from worker.dispatch import broker_holds
    except ImportError:  # an API-only install: re-send on age alone
        return None
    return lambda job_ids: broker_holds(job_ids, settings)


async def run_recovery(
    settings: Settings, dispatch: Dispatcher, probe: BrokerProbe | None = None
) -> None:
    """Run `recovery_pass` every `recovery_interval_s` until cancelled (the app's lifespan)."""
    while True:
        await asyncio.sleep(settings.recovery_interval_s)
        try:
            await asyncio.to_thread(recovery_pass, settings, dispatch, probe)
        except Exception:  # a database hiccup: the next pass tries again
            log.exception("recovery pass failed")
