"""/v1/jobs/{id}/events: the job's events as Server-Sent Events, resumable by event id."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query
from fastapi.security import HTTPAuthorizationCredentials
from sse_starlette import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from api.db.events import tail_start
from api.db.session import session_factory
from api.deps import EventHubDep, SettingsDep, _bearer, get_principal, require_job
from api.errors import AppError, ErrorCode
from api.params import CLIENT_INT, MAX_BIGINT
from api.services.events import EVENT_TYPES, SEP, keep_alive, stream
from trainyard.schemas.common import error_responses

# sse-starlette ends open streams itself when uvicorn stops (by cancelling them); this long it
# first lets them end by themselves, as EventHub.close_streams makes them (api/services/events.py).
# Under `trainyard serve`'s 5 s graceful-shutdown timeout, as the library asks.
SHUTDOWN_GRACE_S = 2.0

router = APIRouter(prefix="/v1/jobs", tags=["events"])

# One event of the stream (OpenAPI 3.2 style: the schema describes each event, as fuzzers and
# client generators read it); `data` is a JSON object as text.
SSE_EVENT_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "pattern": "^[0-9]+$"},
        "event": {"type": "string", "enum": list(EVENT_TYPES)},
        "data": {"type": "string", "contentMediaType": "application/json"},
        "retry": {"type": "integer"},
    },
    "required": ["data"],
}
SSE_EXAMPLE = (
    "id: 7\nevent: metric\n"
    'data: {"name":"train_loss","stage":"train","step":40,"epoch":0,"value":0.31}\n\n'
)


@router.get(
    "/{job_id}/events",
    response_class=EventSourceResponse,
    summary="Stream a job's events (SSE)",
    responses={
        200: {
            "description": "text/event-stream: `id` is the event id, `event` its type "
            f"({', '.join(EVENT_TYPES)}), `data` a JSON object. Comment lines are keep-alives.",
            "content": {"text/event-stream": {"schema": SSE_EVENT_SCHEMA, "example": SSE_EXAMPLE}},
        },
        **error_responses(401, 404, 422),
    },
)
async def stream_events(
    job_id: str,
    settings: SettingsDep,
    hub: EventHubDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    since: Annotated[
        int | None,
        Query(ge=0, le=MAX_BIGINT, description="Send events after this id (0: the whole history)."),
        CLIENT_INT,
    ] = None,
    tail: Annotated[
        int | None,
        Query(
            ge=0,
            le=MAX_BIGINT,
            description="Start with the newest N events and the latest status event (a live "
            "view without the history); ignored with `since` or Last-Event-ID.",
        ),
        CLIENT_INT,
    ] = None,
    types: Annotated[
        list[str] | None, Query(description="Only these event types (`end` is always sent).")
    ] = None,
    last_event_id: Annotated[
        int | None,
        Header(
            alias="Last-Event-ID",
            ge=0,
            le=MAX_BIGINT,
            description="Resume after this id (wins over `since`).",
        ),
        CLIENT_INT,
    ] = None,
) -> EventSourceResponse:
    """Every event of the job in order: `status` (each transition), `metric` (each logged
    value), `progress` (step, total, epoch, samples/s, ETA), `checkpoint` (a new checkpoint),
    `log` (a captured output line), `queue` (while the job is queued: its position, jobs
    ahead and pending reason, sent when one changes; not stored, so never replayed: its id
    repeats the last stored event's),
    and finally `end`, after which the stream closes. A client
    that reconnects with `Last-Event-ID` (or `?since=`) misses nothing and gets nothing twice;
    one that connects after the job ended gets the whole history, then `end`."""
    start = await run_in_threadpool(
        _locate, settings.database_url, credentials, job_id, since, tail
    )
    for kind in types or []:
        if kind not in set(EVENT_TYPES):
            raise AppError(
                ErrorCode.validation_error,
                f"query.types: {kind!r} is not one of {', '.join(EVENT_TYPES)}",
            )
    if last_event_id is not None:
        start = last_event_id
    return EventSourceResponse(
        stream(hub, job_id, start, types or []),
        headers={"Cache-Control": "no-cache"},
        ping=hub.keepalive_s,
        ping_message_factory=keep_alive,
        sep=SEP,
        shutdown_grace_period=SHUTDOWN_GRACE_S,
    )


def _locate(
    database_url: str,
    credentials: HTTPAuthorizationCredentials | None,
    job_id: str,
    since: int | None,
    tail: int | None,
) -> int:
    """Authorise, find the job, and pick the first event id: all in ONE short session.

    Not the usual SessionDep/AuthDep: they hold a pooled connection from the auth dependency to
    the end of the handler, across threadpool hops, and a burst of stream clients (hundreds
    connect at once) would exhaust the pool while the threads wait for connections.
    """
    with session_factory(database_url)() as session:
        require_job(session, get_principal(session, credentials), job_id)
        if tail is not None and since is None:
            return tail_start(session, job_id, tail)
    return since or 0
