"""Metric history queries: downsampled series (from `metric_rollups`) and the streamed raw export.

Downsampling: a series of steps [lo, hi] shown in at most N points is cut into buckets of
`width` steps (bucket = step // width, so at most N buckets). Each bucket reports count, min,
max, mean, last value and its step range. The aggregates come from the rollup level whose
blocks are the widest that still fit in a bucket (width is rounded up to a multiple of the
block), so a query reads at most ~16 rows per bucket however long the run; buckets narrower
than the smallest block read the raw points. When the caller cuts the step range, blocks that
straddle its ends are replaced by their raw points.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, literal, or_, select, union_all
from sqlalchemy.orm import Session

from api.db.metrics import filter_points
from api.db.models import Metric, MetricRollup

# Keep in step with migrations/versions/0002_metric_history.py.
LEVEL_WIDTHS: dict[int, int] = {1: 16, 2: 256, 3: 4096, 4: 65536}
TOP_LEVEL = max(LEVEL_WIDTHS)


@dataclass(frozen=True)
class Series:
    name: str
    stage: str
    count: int
    step_first: int
    step_last: int


@dataclass(frozen=True)
class Bucket:
    step_first: int
    step_last: int
    count: int
    min: float
    max: float
    mean: float
    last: float | None


def list_series(
    session: Session, job_id: str, names: Sequence[str] = (), stage: str | None = None
) -> list[Series]:
    """Every (name, stage) series of the job with its size, from the coarsest rollups."""
    r = MetricRollup
    query = (
        select(r.name, r.stage, func.sum(r.n), func.min(r.step_first), func.max(r.step_last))
        .where(r.job_id == job_id, r.level == TOP_LEVEL)
        .group_by(r.name, r.stage)
        .order_by(r.name, r.stage)
    )
    if names:
        query = query.where(r.name.in_(list(names)))
    if stage is not None:
        query = query.where(r.stage == stage)
    rows = [Series(n, s, int(c), int(a), int(b)) for n, s, c, a, b in session.execute(query)]
    # By code point, as SQLite sorts: PostgreSQL's ORDER BY follows the database's collation
    # (en_US puts "a_loss" before "B_loss", C the other way round).
    return sorted(rows, key=lambda series: (series.name, series.stage))


def bucket_width(lo: int, hi: int, max_points: int) -> tuple[int, int | None]:
    """(bucket width in steps, rollup level or None for raw points) for steps [lo, hi]."""
    span = max(hi - lo + 1, 1)
    # With width >= span / (N - 1), floor(hi/w) - floor(lo/w) + 1 <= N buckets.
    width = span + 1 if max_points <= 1 else max(1, math.ceil(span / (max_points - 1)))
    level = max((lvl for lvl, w in LEVEL_WIDTHS.items() if w <= width), default=None)
    if level is not None:
        block = LEVEL_WIDTHS[level]
        width = math.ceil(width / block) * block
    return width, level


def _raw_source(job_id: str, name: str, stage: str, *where: Any) -> Any:
    m = Metric
    return select(
        m.step.label("step_first"),
        m.step.label("step_last"),
        literal(1).label("n"),
        m.value.label("vmin"),
        m.value.label("vmax"),
        m.value.label("vsum"),
        m.value.label("last_value"),
    ).where(m.job_id == job_id, m.name == name, m.stage == stage, *where)


def _rollup_source(job_id: str, name: str, stage: str, level: int, *where: Any) -> Any:
    r = MetricRollup
    return select(r.step_first, r.step_last, r.n, r.vmin, r.vmax, r.vsum, r.last_value).where(
        r.job_id == job_id, r.name == name, r.stage == stage, r.level == level, *where
    )


def _source(
    job_id: str, series: Series, level: int | None, step_min: int | None, step_max: int | None
) -> Any:
    """The rows to aggregate: rollup blocks inside [step_min, step_max], raw points elsewhere."""
    key = (job_id, series.name, series.stage)
    m = Metric
    in_range = [m.step >= step_min] if step_min is not None else []
    in_range += [m.step <= step_max] if step_max is not None else []
    if level is None:
        return _raw_source(*key, *in_range)
    block = LEVEL_WIDTHS[level]
    first_block = -(-(step_min or 0) // block)  # the first block that starts inside the range
    blocks = [MetricRollup.block >= first_block]
    outside = [m.step < first_block * block]
    if step_max is not None:
        end_block = (step_max + 1) // block  # blocks before this one end inside the range
        blocks.append(MetricRollup.block < end_block)
        outside.append(m.step >= end_block * block)
    parts: list[Any] = [_rollup_source(*key, level, *blocks)]
    if step_min or step_max is not None:
        parts.append(_raw_source(*key, *in_range, or_(*outside)))
    return union_all(*parts) if len(parts) > 1 else parts[0]


def downsample(
    session: Session,
    job_id: str,
    series: Series,
    max_points: int,
    step_min: int | None = None,
    step_max: int | None = None,
) -> tuple[int, list[Bucket]]:
    """(bucket width, buckets in step order) of one series, at most `max_points` of them."""
    lo = max(series.step_first, step_min if step_min is not None else series.step_first)
    hi = min(series.step_last, step_max if step_max is not None else series.step_last)
    if hi < lo:
        return 1, []
    width, level = bucket_width(lo, hi, max_points)
    src = _source(job_id, series, level, step_min, step_max).subquery()
    bucket = (src.c.step_first // width).label("bucket")
    rank = func.row_number().over(partition_by=bucket, order_by=src.c.step_last.desc())
    ranked = select(src, bucket, rank.label("rank")).subquery()
    query = (
        select(
            func.min(ranked.c.step_first),
            func.max(ranked.c.step_last),
            func.sum(ranked.c.n),
            func.min(ranked.c.vmin),
            func.max(ranked.c.vmax),
            func.sum(ranked.c.vsum),
            func.max(case((ranked.c.rank == 1, ranked.c.last_value))),
        )
        .group_by(ranked.c.bucket)
        .order_by(ranked.c.bucket)
    )
    buckets = [
        # PostgreSQL sums bigints as numeric (Decimal): back to int before dividing.
        Bucket(int(a), int(b), int(n), float(vmin), float(vmax), float(total) / int(n), last)
        for a, b, n, vmin, vmax, total, last in session.execute(query)
    ]
    return width, buckets


def iter_points(
    session: Session,
    job_id: str,
    *,
    names: Iterable[str] = (),
    stage: str | None = None,
    step_min: int | None = None,
    step_max: int | None = None,
    after: tuple[int, int] | None = None,
    limit: int | None = None,
    chunk: int = 5000,
) -> Iterator[Any]:
    """Raw points (name, stage, step, epoch, value, id) in (step, id) order, fetched `chunk` rows
    at a time through a server-side cursor, so a million points never sit in memory at once."""
    m = Metric
    query = filter_points(
        select(m.name, m.stage, m.step, m.epoch, m.value, m.id),
        job_id,
        names=names,
        stage=stage,
        step_min=step_min,
        step_max=step_max,
        after=after,
    )
    if limit is not None:
        query = query.limit(limit)
    result = session.execute(query.execution_options(yield_per=chunk))
    yield from result


def series_extremes(
    session: Session, job_ids: Sequence[str], names: Sequence[str]
) -> dict[tuple[str, str], tuple[float, float]]:
    """(min, max) of each (job, name) series over all its stages, from the coarsest rollups:
    one query for a whole page of jobs (the dashboard's "best" column)."""
    if not job_ids or not names:
        return {}
    r = MetricRollup
    query = (
        select(r.job_id, r.name, func.min(r.vmin), func.max(r.vmax))
        .where(r.level == TOP_LEVEL, r.job_id.in_(list(job_ids)), r.name.in_(list(names)))
        .group_by(r.job_id, r.name)
    )
    return {(j, n): (float(lo), float(hi)) for j, n, lo, hi in session.execute(query)}
