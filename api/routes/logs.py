"""/v1/jobs/{id}/logs: the job's stdout, stderr and logging lines, a page at a time."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.db.events import events_after
from api.db.models import EventType
from api.deps import AuthDep, SessionDep, require_job
from api.pagination import decode_cursor, page
from api.params import CLIENT_INT
from trainyard.schemas.common import error_responses
from trainyard.schemas.logs import LogLine, LogList

router = APIRouter(prefix="/v1/jobs", tags=["logs"])


@router.get(
    "/{job_id}/logs",
    response_model=LogList,
    summary="List a job's log lines",
    responses=error_responses(401, 404, 422),
)
def list_logs(
    job_id: str,
    session: SessionDep,
    principal: AuthDep,
    limit: Annotated[int, Query(ge=1, le=10_000, description="Page size."), CLIENT_INT] = 1000,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page.")] = None,
) -> LogList:
    """Captured stdout, stderr and Python logging lines of the job's worker, oldest first. The
    same lines arrive live as `log` events on /v1/jobs/{id}/events."""
    require_job(session, principal, job_id)
    (after,) = decode_cursor(cursor, int) if cursor is not None else (0,)
    rows = events_after(session, job_id, after, limit + 1, types=[EventType.log])
    lines, next_cursor = page(rows, limit, key=lambda event: (event.seq,))
    return LogList(items=[_line(r.seq, r.data) for r in lines], next_cursor=next_cursor)


def _line(seq: int, data: dict[str, Any]) -> LogLine:
    at = data.get("at")
    when = datetime.fromtimestamp(at, UTC) if isinstance(at, (int, float)) else None
    return LogLine(
        seq=seq, stream=str(data.get("stream", "")), line=str(data.get("line", "")), at=when
    )
