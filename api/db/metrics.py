"""Metric queries of the API (the worker's batched inserts live in worker/store.py)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session

from api.db.models import Metric

SelectT = TypeVar("SelectT", bound=Select)  # type: ignore[type-arg]


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
