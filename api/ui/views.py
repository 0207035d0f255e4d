"""What the pages show, computed from rows: table rows, the monitored metric, spec differences."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from api.db.metric_history import series_extremes
from api.db.models import Job, utcnow

# Module parameters that give the width of one flat input vector (built-ins: input_dim).
INPUT_WIDTH_PARAMS = ("input_dim", "in_dim", "in_features")


@dataclass(frozen=True)
class Monitor:
    name: str
    mode: str  # "min" or "max"


@dataclass(frozen=True)
class JobRow:
    job: Job
    best: float | None
    monitor: Monitor | None
    duration_s: float | None


def monitor_of(spec: dict[str, Any]) -> Monitor | None:
    """The metric the job ranks checkpoints by, else the one early stopping watches."""
    for section in ("checkpoint", "early_stopping"):
        options = spec.get(section) or {}
        if options.get("monitor"):
            return Monitor(str(options["monitor"]), str(options.get("mode") or "min"))
    return None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def duration_s(job: Job) -> float | None:
    if job.started_at is None:
        return None
    end = _aware(job.finished_at) if job.finished_at else utcnow()
    return max((end - _aware(job.started_at)).total_seconds(), 0.0)


def job_rows(session: Session, jobs: list[Job]) -> list[JobRow]:
    """Table rows with the best value of each job's monitored metric (one query for all)."""
    monitors = {job.id: monitor_of(job.spec or {}) for job in jobs}
    names = sorted({m.name for m in monitors.values() if m is not None})
    extremes = series_extremes(session, [job.id for job in jobs], names)
    rows = []
    for job in jobs:
        monitor = monitors[job.id]
        best = None
        if monitor is not None and (job.id, monitor.name) in extremes:
            low, high = extremes[(job.id, monitor.name)]
            best = high if monitor.mode == "max" else low
        rows.append(JobRow(job, best, monitor, duration_s(job)))
    return rows


def progress_percent(progress: dict[str, Any]) -> float | None:
    step, total = progress.get("step"), progress.get("total")
    if isinstance(step, int) and isinstance(total, int) and total > 0:
        return min(100.0, 100.0 * step / total)
    return None


def input_width(spec: dict[str, Any]) -> int | None:
    """Width of the flat vector the job's module takes, when a parameter says so."""
    params = (spec.get("module") or {}).get("params") or {}
    for name in INPUT_WIDTH_PARAMS:
        value = params.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= 100_000:
            return value
    return None


def flatten(value: Any, prefix: str = "") -> dict[str, str]:
    """{"module.params.lr": "0.001", ...}: every leaf of a spec as text, for the diff table."""
    if isinstance(value, dict) and value:
        out: dict[str, str] = {}
        for key in sorted(value):
            out.update(flatten(value[key], f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: json.dumps(value, sort_keys=True)}


def spec_differences(specs: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    """The keys whose values are not the same in every spec, with each spec's value ('' when
    absent), in key order."""
    flat = [flatten(spec) for spec in specs]
    keys = sorted(set().union(*flat)) if flat else []
    rows = []
    for key in keys:
        values = [f.get(key, "") for f in flat]
        if len(set(values)) > 1:
            rows.append((key, values))
    return rows
