"""Every query of metric points: the worker's batched inserts and the API's pages."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, and_, func, insert, or_, select, union_all
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from api.db.models import Metric, utcnow

SelectT = TypeVar("SelectT", bound=Select)  # type: ignore[type-arg]
MetricRow = dict[str, Any]  # job_id, name, stage, step, epoch, value


def insert_metrics(session: Session, rows: list[MetricRow]) -> list[MetricRow]:
    """Insert metric points, skipping any (job, name, stage, step) already stored.

    Returns the rows actually inserted, so a replayed step (a resumed attempt, a retried flush)
    is neither stored nor announced twice. The caller holds the job's row lock.
    """
    if not rows:
        return []
    dialect = session.get_bind().dialect.name
    stmt: Any
    if dialect == "postgresql":
        stmt = postgresql.insert(Metric).on_conflict_do_nothing(constraint="uq_metrics_point")
    elif dialect == "sqlite":
        stmt = sqlite.insert(Metric).on_conflict_do_nothing(
            index_elements=["job_id", "name", "stage", "step"]
        )
    else:  # pragma: no cover - settings only allow the two above
        stmt = insert(Metric)
    now = utcnow()
    cols = (Metric.name, Metric.stage, Metric.step, Metric.epoch, Metric.value)
    result = session.execute(stmt.returning(*cols), [{**row, "created_at": now} for row in rows])
    return [dict(r._mapping) for r in result]


def filter_points(
    query: SelectT,
    job_id: str,
    *,
    names: Iterable[str] = (),
    stage: str | None = None,
    step_min: int | None = None,
    step_max: int | None = None,
    after: tuple[int, int] | None = None,
) -> SelectT:
    """A job's points, narrowed by name, stage, step range and `after` = (step, id), in
    (step, id) order: the one definition of a page of points, for JSON and CSV alike."""
    query = query.where(Metric.job_id == job_id)
    names = list(names)
    if names:
        query = query.where(Metric.name.in_(names))
    if stage is not None:
        query = query.where(Metric.stage == stage)
    if step_min is not None:
        query = query.where(Metric.step >= step_min)
    if step_max is not None:
        query = query.where(Metric.step <= step_max)
    if after is not None:
        step, row_id = after
        query = query.where(or_(Metric.step > step, and_(Metric.step == step, Metric.id > row_id)))
    return query.order_by(Metric.step, Metric.id)


def list_metrics(
    session: Session,
    job_id: str,
    *,
    limit: int = 1000,
    **filters: Any,
) -> list[Metric]:
    """Points ordered by (step, id); `after` is the (step, id) of the previous page's last point."""
    query = filter_points(select(Metric), job_id, **filters)
    return list(session.scalars(query.limit(limit)))


def step_marks(session: Session, job_id: str, count: int = 256) -> list[tuple[int, int, datetime]]:
    """About `count` (step, epoch, logged at) triples spread evenly over the job's steps, so that
    a chart can place any step on an epoch or time axis by interpolation. One index probe each."""
    lo, hi = session.execute(
        select(func.min(Metric.step), func.max(Metric.step)).where(Metric.job_id == job_id)
    ).one()
    if lo is None:
        return []
    targets = sorted({lo + (hi - lo) * i // max(count - 1, 1) for i in range(count)})
    probes = [
        select(Metric.step, Metric.epoch, Metric.created_at)
        .where(Metric.job_id == job_id, Metric.step >= target)
        .order_by(Metric.step)
        .limit(1)
        .subquery()
        for target in targets
    ]
    rows = session.execute(union_all(*(select(probe) for probe in probes))).all()
    return sorted({(int(s), int(e), at) for s, e, at in rows})
