"""The GPU fleet on the wire: what a job asks for, where it runs, why it waits, the workers and
the projects' quotas."""

from __future__ import annotations

import enum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from trainyard.schemas.common import UtcDatetime

PoolName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")]
LabelKey = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.\-/]{1,64}$")]
LabelValue = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.\-/:]{0,128}$")]
MAX_GPUS_PER_JOB = 64  # more than any machine has: a larger count is a typo, refused with a 422
MAX_JOB_MEMORY_MB = 4 * 1024 * 1024  # 4 TiB


class PendingReason(enum.StrEnum):
    """Why a queued job waits: the first that applies, in this order."""

    pool_has_no_workers = "pool_has_no_workers"
    no_worker_fits = "no_worker_fits"
    project_quota = "project_quota"
    higher_priority_ahead = "higher_priority_ahead"
    waiting_for_gpus = "waiting_for_gpus"
    waiting_for_cpu_slot = "waiting_for_cpu_slot"


class ResourcesSpec(BaseModel):
    """What a job needs from one worker."""

    model_config = ConfigDict(extra="forbid", strict=True)

    gpus: Annotated[int, Field(ge=0, le=MAX_GPUS_PER_JOB)] = Field(
        0,
        description="GPUs, all on one worker; the job sees them as cuda:0..N-1. 0: a CPU job "
        "(one CPU slot, CUDA_VISIBLE_DEVICES empty).",
    )
    pool: PoolName = Field("default", description="Only workers of this pool run the job.")
    labels: dict[LabelKey, LabelValue] = Field(
        default_factory=dict,
        max_length=20,
        description='Worker labels the job needs, e.g. {"gpu": "a100"}: a worker runs it '
        "only when it has every one of them with the same value.",
    )
    memory_mb: Annotated[int, Field(ge=64, le=MAX_JOB_MEMORY_MB)] | None = Field(
        None,
        description="Resident memory limit of the job's processes (MiB); above it the job is "
        "stopped as `oom`. At most the server's JOB_MEMORY_LIMIT_MB; default: that setting.",
    )


class JobPlacement(BaseModel):
    worker: str = Field(description="The worker it was placed on (see GET /v1/workers).")
    gpus: list[int] = Field(description="The worker's local GPU indices it got; [] for CPU jobs.")


class QueueInfo(BaseModel):
    position: int | None = Field(
        description="1-based place in its pool's queue, in scheduling order (priority, then "
        "submission); null once placed on a worker and starting."
    )
    jobs_ahead: int | None = Field(description="Queued jobs of its pool ahead of it.")
    pending_reason: PendingReason | None = Field(
        description="Why it waits (the first that applies, in the enum's order); null once "
        "placed and starting."
    )
    since: UtcDatetime = Field(description="When it (re-)entered the queue.")


class QueuedJob(BaseModel):
    id: str = Field(description="Job id.")
    name: str | None = Field(description="The job's label.")
    project_id: str = Field(description="Its project.")
    priority: int = Field(description="Scheduling priority.")
    gpus: int = Field(description="GPUs it asks for.")
    pool: str = Field(description="Pool it runs in.")
    queue: QueueInfo = Field(description="Position, jobs ahead, pending reason, since.")


class QueueList(BaseModel):
    items: list[QueuedJob] = Field(
        description="Queued jobs in scheduling order (pool, then priority, then submission)."
    )


class GpuPublic(BaseModel):
    index: int = Field(description="The worker machine's local GPU index.")
    uuid: str | None = Field(description="NVML UUID, when known.")
    name: str = Field(description='Device name ("simulated" for a declared inventory).')
    memory_mb: int | None = Field(description="Total memory, MiB, when known.")
    job_id: str | None = Field(description="The job holding it; null when free.")
    utilization_pct: float | None = Field(None, description="NVML utilisation, when present.")
    memory_used_mb: float | None = Field(None, description="NVML memory in use, when present.")


class WorkerPublic(BaseModel):
    id: str = Field(description="Worker id (host, a random part, and its process id).")
    host: str = Field(description="Machine name.")
    pool: str = Field(description="Pool it serves.")
    labels: dict[str, str] = Field(description="Its labels.")
    status: Literal["online", "offline"] = Field(
        description="offline: stopped, or no heartbeat for HEARTBEAT_TIMEOUT_S."
    )
    simulated: bool = Field(description="The GPUs were declared on a machine without GPUs.")
    gpus: list[GpuPublic] = Field(description="Its GPUs: free or busy, and the job on each.")
    cpu_slots: int = Field(description="CPU-only job slots.")
    cpu_slots_busy: int = Field(description="CPU slots holding a job.")
    jobs: list[str] = Field(description="Jobs holding any of its slots.")
    version: str = Field(description="Trainyard version it runs.")
    started_at: UtcDatetime = Field(description="When it registered.")
    last_heartbeat_at: UtcDatetime = Field(description="Its last heartbeat.")


class WorkerList(BaseModel):
    items: list[WorkerPublic] = Field(description="Workers, online first, then by id.")


class ProjectQuotaUpdate(BaseModel):
    """Set or clear (null) a project's quotas; fields left out are unchanged."""

    model_config = ConfigDict(extra="forbid", strict=True)

    max_gpus: Annotated[int, Field(ge=0, le=100_000)] | None = Field(
        None, description="GPUs its placed and running jobs may hold at once; null: no limit."
    )
    max_running_jobs: Annotated[int, Field(ge=0, le=100_000)] | None = Field(
        None, description="Jobs placed or running at once; null: no limit."
    )
    max_priority: Annotated[int, Field(ge=-1000, le=1000)] | None = Field(
        None, description="Highest priority its jobs may ask for; null: no cap."
    )
