"""Metric history: downsampled series for charts, and the raw points as streamed CSV."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi.responses import Response, StreamingResponse
from sqlalchemy.orm import Session

from api.db import metric_history as queries
from api.db.session import session_factory
from api.pagination import page as cut_page
from trainyard.schemas.metric_history import MetricBucket, MetricHistory, MetricSeries

CSV_HEADER = ("name", "stage", "step", "epoch", "value")
CSV_CHUNK_ROWS = 5000


@dataclass(frozen=True)
class PointFilter:
    """Which raw points: names (all when empty), stage, and an inclusive step range."""

    names: Sequence[str] = ()
    stage: str | None = None
    step_min: int | None = None
    step_max: int | None = None


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def history(session: Session, job_id: str, where: PointFilter, max_points: int) -> MetricHistory:
    """Every matching series cut into at most `max_points` buckets."""
    series_out = []
    for series in queries.list_series(session, job_id, where.names, where.stage):
        width, buckets = queries.downsample(
            session, job_id, series, max_points, where.step_min, where.step_max
        )
        series_out.append(
            MetricSeries(
                name=series.name,
                stage=series.stage,
                count=series.count,
                bucket_steps=width,
                buckets=[
                    MetricBucket(
                        step_min=b.step_first,
                        step_max=b.step_last,
                        count=b.count,
                        min=_finite(b.min),
                        max=_finite(b.max),
                        mean=_finite(b.mean),
                        last=_finite(b.last),
                    )
                    for b in buckets
                ],
            )
        )
    return MetricHistory(job_id=job_id, max_points=max_points, series=series_out)


def _csv_lines(rows: Sequence[tuple[object, ...]], header: bool) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if header:
        writer.writerow(CSV_HEADER)
    writer.writerows(rows)
    return out.getvalue()


def _row(point: tuple[object, ...]) -> tuple[object, ...]:
    name, stage, step, epoch, value = point[:5]
    return name, stage, step, epoch, repr(value)  # repr: every digit of the float


def _stream_csv(
    database_url: str, job_id: str, where: PointFilter, after: tuple[int, int] | None
) -> Iterator[str]:
    # Its own session: the request's is closed before the body starts, so a long export holds
    # one connection and CSV_CHUNK_ROWS rows at a time, never the whole series.
    with session_factory(database_url)() as session:
        chunk: list[tuple[object, ...]] = []
        first = True
        points = queries.iter_points(
            session, job_id, names=where.names, stage=where.stage,
            step_min=where.step_min, step_max=where.step_max, after=after, chunk=CSV_CHUNK_ROWS,
        )  # fmt: skip
        for point in points:
            chunk.append(_row(tuple(point)))
            if len(chunk) >= CSV_CHUNK_ROWS:
                yield _csv_lines(chunk, first)
                chunk, first = [], False
        yield _csv_lines(chunk, first)


def point_key(point: Any) -> tuple[int, int]:
    """A metric point's place in a page: (step, id), as `filter_points` orders them."""
    return point.step, point.id


def csv_page(
    session: Session,
    job_id: str,
    where: PointFilter,
    after: tuple[int, int] | None,
    limit: int,
) -> Response:
    """One page of raw points as CSV; the next page's cursor is in the X-Next-Cursor header."""
    points = list(
        queries.iter_points(
            session, job_id, names=where.names, stage=where.stage, step_min=where.step_min,
            step_max=where.step_max, after=after, limit=limit + 1,
        )
    )  # fmt: skip
    page, next_cursor = cut_page(points, limit, key=point_key)
    headers = {"Content-Disposition": f'attachment; filename="{job_id}-metrics.csv"'}
    if next_cursor is not None:
        headers["X-Next-Cursor"] = next_cursor
    body = _csv_lines([_row(tuple(p)) for p in page], header=True)
    return Response(body, media_type="text/csv", headers=headers)


def csv_stream(
    database_url: str, job_id: str, where: PointFilter, after: tuple[int, int] | None
) -> StreamingResponse:
    """Every matching point (after the cursor, if any) as CSV, streamed."""
    return StreamingResponse(
        _stream_csv(database_url, job_id, where, after),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{job_id}-metrics.csv"'},
    )
