"""The UI's own data routes: the job's event stream (cookie-authenticated SSE, resumable by
Last-Event-ID) and the step marks that put a step on an epoch or time axis."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from sse_starlette import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from api.db.metrics import step_marks
from api.db.session import session_factory
from api.db.ui_sessions import find_session
from api.deps import EventHubDep, Principal, SessionDep, SettingsDep, require_job
from api.errors import AppError, ErrorCode
from api.params import CLIENT_INT, MAX_BIGINT
from api.routes.events import SHUTDOWN_GRACE_S
from api.services.events import SEP, keep_alive, stream
from api.ui.auth import COOKIE, UiPrincipalDep

router = APIRouter(include_in_schema=False)


@router.get("/jobs/{job_id}/events")
async def job_events(
    job_id: str,
    request: Request,
    settings: SettingsDep,
    hub: EventHubDep,
    since: Annotated[int, Query(ge=0, le=MAX_BIGINT), CLIENT_INT] = 0,
    last_event_id: Annotated[
        int | None, Header(alias="Last-Event-ID", ge=0, le=MAX_BIGINT), CLIENT_INT
    ] = None,
) -> EventSourceResponse:
    """The same stream as /v1/jobs/{id}/events, for the page's EventSource: events after
    `since` (or after Last-Event-ID when the browser reconnects), then live, then `end`."""
    secret = request.cookies.get(COOKIE, "")
    await run_in_threadpool(_authorise, settings.database_url, secret, job_id)
    start = since
    if last_event_id is not None:
        start = last_event_id
    return EventSourceResponse(
        stream(hub, job_id, start, []),
        headers={"Cache-Control": "no-cache"},
        ping=hub.keepalive_s,
        ping_message_factory=keep_alive,
        sep=SEP,
        shutdown_grace_period=SHUTDOWN_GRACE_S,
    )


def _authorise(database_url: str, secret: str, job_id: str) -> None:
    """Session and job check in one short session: a stream holds no connection while open."""
    with session_factory(database_url)() as session:
        live = find_session(session, secret) if secret else None
        if live is None:
            raise AppError(ErrorCode.unauthorized, "not logged in; open /ui/login")
        principal = Principal(live.token_id, live.project_id, live.is_admin)
        require_job(session, principal, job_id)


@router.get("/api/jobs/{job_id}/marks")
def job_step_marks(job_id: str, session: SessionDep, principal: UiPrincipalDep) -> dict[str, Any]:
    """`marks`: [step, epoch, unix seconds] about every 1/256 of the run, for epoch and
    time axes (the chart interpolates between them)."""
    require_job(session, principal, job_id)
    marks = step_marks(session, job_id)
    return {"marks": [[step, epoch, _unix(at)] for step, epoch, at in marks]}


def _unix(moment: datetime) -> float:
    # SQLite hands back naive datetimes; they were stored in UTC.
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
