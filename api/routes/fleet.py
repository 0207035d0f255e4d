"""/v1/workers (admin), /v1/queue, and project quotas (PATCH /v1/projects/{id}, admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.db.models import Project, utcnow
from api.db.queue import queue_listing
from api.db.workers import WorkerView, gpu_index, worker_views
from api.deps import AdminDep, AuthDep, SchedulerDep, SessionDep, SettingsDep
from api.errors import AppError, ErrorCode
from api.params import CLIENT_INT
from trainyard.schemas.admin import ProjectPublic
from trainyard.schemas.common import error_responses
from trainyard.schemas.fleet import (
    GpuPublic,
    PoolName,
    ProjectQuotaUpdate,
    QueuedJob,
    QueueList,
    WorkerList,
    WorkerPublic,
)

router = APIRouter(tags=["fleet"])


def worker_public(view: WorkerView) -> WorkerPublic:
    row = view.row
    holders = view.holders
    stats = row.gpu_stats or {}
    gpus = []
    for gpu in row.inventory or []:
        index = int(gpu["index"])
        reading = stats.get(str(index)) or {}
        gpus.append(
            GpuPublic(
                index=index,
                uuid=gpu.get("uuid"),
                name=str(gpu.get("name") or "unknown"),
                memory_mb=gpu.get("memory_mb"),
                job_id=holders.get(f"gpu:{index}"),
                utilization_pct=reading.get("utilization_pct"),
                memory_used_mb=reading.get("memory_used_mb"),
            )
        )
    cpu_busy = [j for s, j in holders.items() if gpu_index(s) is None and j is not None]
    jobs = sorted({j for j in holders.values() if j is not None})
    return WorkerPublic(
        id=row.id,
        host=row.host,
        pool=row.pool,
        labels=dict(row.labels or {}),
        status="online" if view.online else "offline",
        simulated=row.simulated,
        gpus=gpus,
        cpu_slots=row.cpu_slots,
        cpu_slots_busy=len(cpu_busy),
        jobs=jobs,
        version=row.version,
        started_at=row.started_at,
        last_heartbeat_at=row.last_heartbeat_at,
    )


@router.get(
    "/v1/workers",
    response_model=WorkerList,
    summary="List workers (admin)",
    responses=error_responses(401, 403),
)
def list_workers(session: SessionDep, admin: AdminDep, settings: SettingsDep) -> WorkerList:
    """Every registered worker, online first: its pool, labels, GPUs (free or busy, the job on
    each, and NVML's utilisation and memory in use where NVML is present) and CPU slots. A
    worker is offline once it stopped or has not beaten for HEARTBEAT_TIMEOUT_S; the slots of
    its jobs are freed when the reaper hands those jobs back."""
    views = worker_views(session, utcnow(), settings.heartbeat_timeout_s)
    return WorkerList(items=[worker_public(v) for v in views])


@router.get(
    "/v1/queue",
    response_model=QueueList,
    summary="The queue, in scheduling order",
    responses=error_responses(401, 422),
)
def read_queue(
    session: SessionDep,
    principal: AuthDep,
    settings: SettingsDep,
    pool: Annotated[PoolName | None, Query(description="Only this pool.")] = None,
    limit: Annotated[
        int, Query(ge=1, le=1000, description="At most this many jobs."), CLIENT_INT
    ] = 200,
) -> QueueList:
    """Queued jobs by pool, then priority (higher first), then submission: each with its
    1-based position in its pool, the jobs ahead of it and its pending reason. A token sees its
    own project's jobs (positions count every project's); an admin token sees all."""
    rows = queue_listing(
        session,
        utcnow(),
        settings.heartbeat_timeout_s,
        pool=pool,
        project_id=None if principal.is_admin else principal.project_id,
        limit=limit,
    )
    items = [
        QueuedJob(
            id=job.id,
            name=job.name,
            project_id=job.project_id,
            priority=job.priority,
            gpus=job.gpus,
            pool=job.pool,
            queue=info,
        )
        for job, info in rows
    ]
    return QueueList(items=items)


@router.patch(
    "/v1/projects/{project_id}",
    response_model=ProjectPublic,
    summary="Set a project's quotas (admin)",
    responses={**error_responses(401, 403, 404, 422)},
)
def update_project_quotas(
    project_id: str,
    body: ProjectQuotaUpdate,
    session: SessionDep,
    admin: AdminDep,
    scheduler: SchedulerDep,
) -> ProjectPublic:
    """`max_gpus` (GPUs its placed and running jobs hold at once), `max_running_jobs` and
    `max_priority` (the highest priority its jobs may ask for). A field set to null removes
    that limit; a field left out is unchanged. A job over quota waits with the pending reason
    `project_quota`; running jobs are never stopped."""
    project = session.get(Project, project_id)
    if project is None:
        raise AppError(ErrorCode.not_found, f"no project {project_id}")
    for name, value in body.model_dump(exclude_unset=True).items():
        setattr(project, name, value)
    session.commit()
    scheduler.wake()  # a raised quota may let jobs start
    return ProjectPublic.model_validate(project, from_attributes=True)
