"""/v1/jobs/{id}/metrics: every value logged through self.log."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from api.db.metrics import list_metrics as query_metrics
from api.deps import AuthDep, SessionDep, SettingsDep, require_job
from api.errors import AppError, ErrorCode
from api.pagination import decode_cursor, page
from api.params import CLIENT_INT, MAX_BIGINT
from api.services import metric_history
from trainyard.schemas.common import error_responses
from trainyard.schemas.metric_history import MetricHistory
from trainyard.schemas.metrics import MetricList, MetricPoint

router = APIRouter(prefix="/v1/jobs", tags=["metrics"])


@router.get(
    "/{job_id}/metrics",
    response_model=MetricList | MetricHistory,
    summary="List a job's metric points",
    responses={
        200: {"content": {"text/csv": {"schema": {"type": "string"}}}},
        **error_responses(401, 404, 422),
    },
)
def list_metrics(
    job_id: str,
    session: SessionDep,
    principal: AuthDep,
    settings: SettingsDep,
    name: Annotated[list[str] | None, Query(description="Only these metric names.")] = None,
    stage: Annotated[
        str | None, Query(max_length=20, description="Only this stage (e.g. train, validate).")
    ] = None,
    step_min: Annotated[
        int | None, Query(ge=0, le=MAX_BIGINT, description="Smallest step, inclusive."), CLIENT_INT
    ] = None,
    step_max: Annotated[
        int | None, Query(ge=0, le=MAX_BIGINT, description="Largest step, inclusive."), CLIENT_INT
    ] = None,
    limit: Annotated[
        int | None,
        Query(ge=1, le=10_000, description="Page size (JSON default 1000; CSV default: all)."),
        CLIENT_INT,
    ] = None,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page.")] = None,
    max_points: Annotated[
        int | None,
        Query(
            ge=1,
            le=10_000,
            description="Downsample: at most this many buckets per series (min, max, mean, "
            "last and step range of each), whatever the length of the run.",
        ),
        CLIENT_INT,
    ] = None,
    format: Annotated[
        Literal["json", "csv"],
        Query(description="csv: the raw points as CSV, streamed (next cursor in X-Next-Cursor)."),
    ] = "json",
) -> MetricList | MetricHistory | Response:
    """Points ordered by step, filterable by name, stage and step range, a page at a time.
    With `max_points`, each (name, stage) series downsampled into at most that many buckets;
    with `format=csv`, the raw points as CSV."""
    require_job(session, principal, job_id)
    after = decode_cursor(cursor, int, int) if cursor is not None else None
    where = metric_history.PointFilter(name or [], stage, step_min, step_max)
    if max_points is not None:
        if format == "csv" or cursor is not None:
            raise AppError(
                ErrorCode.validation_error,
                "query.max_points: cannot be combined with format=csv or cursor",
            )
        return metric_history.history(session, job_id, where, max_points)
    if format == "csv":
        if limit is not None:
            return metric_history.csv_page(session, job_id, where, after, limit)
        session.close()  # the stream opens its own; don't hold this connection meanwhile
        return metric_history.csv_stream(settings.database_url, job_id, where, after)
    limit = limit or 1000
    rows = query_metrics(
        session,
        job_id,
        names=name or [],
        stage=stage,
        step_min=step_min,
        step_max=step_max,
        after=after,
        limit=limit + 1,
    )
    points, next_cursor = page(rows, limit, key=metric_history.point_key)
    items = [
        MetricPoint(name=m.name, stage=m.stage, step=m.step, epoch=m.epoch, value=_finite(m.value))
        for m in points
    ]
    return MetricList(items=items, next_cursor=next_cursor)


def _finite(value: float) -> float | None:
    return value if value == value and abs(value) != float("inf") else None
