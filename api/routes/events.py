"""/v1/jobs/{id}/events: the job's events as Server-Sent Events, resumable by event id."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from api.db.events import tail_start
from api.deps import AuthDep, SessionDep, require_job
from api.errors import AppError, ErrorCode
from api.schemas.common import error_responses
from api.services.events import EVENT_TYPES, event_hub, stream

MAX_BIGINT = 2**63 - 1  # event ids are BIGINT: a larger one is a 422, not a 500

router = APIRouter(prefix="/v1/jobs", tags=["events"])

SSE_EXAMPLE = (
    "id: 7\nevent: metric\n"
    'data: {"name":"train_loss","stage":"train","step":40,"epoch":0,"value":0.31}\n\n'
)


@router.get(
    "/{job_id}/events",
    response_class=StreamingResponse,
    summary="Stream a job's events (SSE)",
    responses={
        200: {
            "description": "text/event-stream: `id` is the event id, `event` its type "
            f"({', '.join(EVENT_TYPES)}), `data` a JSON object. Comment lines are keep-alives.",
            "content": {
                "text/event-stream": {"schema": {"type": "string"}, "example": SSE_EXAMPLE}
            },
        },
        **error_responses(401, 404, 422),
    },
)
def stream_events(
    job_id: str,
    request: Request,
    session: SessionDep,
    principal: AuthDep,
    since: Annotated[
        int | None,
        Query(ge=0, le=MAX_BIGINT, description="Send events after this id (0: the whole history)."),
    ] = None,
    tail: Annotated[
        int | None,
        Query(
            ge=0,
            le=MAX_BIGINT,
            description="Start with the newest N events and the latest status event (a live "
            "view without the history); ignored with `since` or Last-Event-ID.",
        ),
    ] = None,
    types: Annotated[
        list[str] | None, Query(description="Only these event types (`end` is always sent).")
    ] = None,
    last_event_id: Annotated[
        str | None,
        Header(alias="Last-Event-ID", description="Resume after this id (wins over `since`)."),
    ] = None,
) -> StreamingResponse:
    """Every event of the job in order: `status` (each transition), `metric` (each logged
    value), `progress` (step, total, epoch, samples/s, ETA), `checkpoint` (a new checkpoint),
    `log` (a captured output line), and finally `end`, after which the stream closes. A client
    that reconnects with `Last-Event-ID` (or `?since=`) misses nothing and gets nothing twice;
    one that connects after the job ended gets the whole history, then `end`."""
    require_job(session, principal, job_id)
    start = since or 0
    if tail is not None and since is None:
        start = tail_start(session, job_id, tail)
    session.close()  # the stream reads with short sessions of its own; hold no connection
    for kind in types or []:
        if kind not in EVENT_TYPES:
            raise AppError(
                ErrorCode.validation_error,
                f"query.types: {kind!r} is not one of {', '.join(EVENT_TYPES)}",
            )
    if last_event_id is not None:
        if not last_event_id.strip().isdigit() or int(last_event_id) > MAX_BIGINT:
            raise AppError(
                ErrorCode.validation_error,
                "header.Last-Event-ID: must be the id of an event (a non-negative integer)",
            )
        start = int(last_event_id)
    return StreamingResponse(
        stream(event_hub(request.app), job_id, start, types or []),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
