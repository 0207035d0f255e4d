"""Submit-time checks of where a job could run: the project's priority cap (a 422) and, for a
dry run, what would keep the job waiting forever (warnings: the job would still be accepted)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from api.db.models import Project, utcnow
from api.db.queue import Fleet
from api.db.scheduling_rules import QueuedJob
from api.errors import AppError, ErrorCode
from api.settings import Settings
from trainyard.schemas.fleet import PendingReason
from trainyard.schemas.jobs import JobCreate


def check_priority_cap(session: Session, project_id: str, priority: int) -> None:
    project = session.get(Project, project_id)
    cap = project.max_priority if project is not None else None
    if cap is not None and priority > cap:
        message = f"at most {cap} for this project (its max_priority, set by an admin)"
        raise AppError(
            ErrorCode.validation_error,
            f"priority: {message}",
            errors=[{"field": "priority", "message": message}],
        )


def placement_warnings(session: Session, settings: Settings, body: JobCreate) -> list[str]:
    """Why the job would never be placed with the workers online now; [] when it could be."""
    now = utcnow()
    fleet = Fleet.read(session, now, settings.heartbeat_timeout_s)
    resources = body.resources
    job = QueuedJob("", "", body.priority, resources.gpus, resources.pool, resources.labels, now)
    workers = fleet.by_pool.get(resources.pool, [])
    if not workers:
        return [
            f"{PendingReason.pool_has_no_workers}: no online worker serves pool "
            f"{resources.pool!r}; the job would wait until one registers"
        ]
    if not any(w.can_ever_run(job) for w in workers):
        largest = max(w.gpu_count for w in workers)
        return [
            f"{PendingReason.no_worker_fits}: no online worker of pool {resources.pool!r} has "
            f"{resources.gpus} GPU(s) and labels {resources.labels or {}} (largest: {largest} "
            "GPUs); the job would wait until one registers"
        ]
    return []
