"""/v1/jobs: submit, list, read, cancel."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Header, Query, Response

from api.db import jobs as job_queries
from api.db.models import JobStatus
from api.deps import (
    AuthDep,
    RateLimiterDep,
    RegistryDep,
    SchedulerDep,
    SessionDep,
    SettingsDep,
    require_job,
)
from api.errors import AppError, ErrorCode
from api.pagination import decode_cursor, page
from api.params import CLIENT_INT
from api.services import jobs as job_service
from api.services.placement import check_priority_cap, placement_warnings
from api.services.specs import request_hash, resolve_spec
from api.services.views import job_public, job_summaries
from trainyard.schemas.common import error_responses
from trainyard.schemas.jobs import JobCreate, JobDryRun, JobList, JobPublic, Tag

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])
STATUS_VALUES = tuple(s.value for s in JobStatus)


@router.post(
    "",
    status_code=201,
    response_model=JobPublic | JobDryRun,
    summary="Submit a training job",
    responses={
        200: {"model": JobDryRun, "description": "dry_run=true: the resolved spec, not stored."},
        **error_responses(400, 401, 409, 413, 422, 429),
    },
)
def create_job(
    body: JobCreate,
    response: Response,
    background: BackgroundTasks,
    session: SessionDep,
    principal: AuthDep,
    settings: SettingsDep,
    registry: RegistryDep,
    limiter: RateLimiterDep,
    scheduler: SchedulerDep,
    dry_run: Annotated[
        bool, Query(description="Validate and return the resolved spec; store nothing.")
    ] = False,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=200,
            description="Repeat a request safely: the same key and body return the same job.",
        ),
    ] = None,
) -> JobPublic | JobDryRun:
    """Validate the spec against the registry and the server's limits, store the job as
    `queued`; a scheduling pass runs right after the answer: the job is placed on a worker
    whose free slots fit `resources` (highest `priority` first, FIFO within a priority) and
    sent to it, or waits with a `queue.pending_reason`. Unknown fields and bad params are a 422 naming the field;
    a `priority` above the project's `max_priority` is a 422 too."""
    spec = resolve_spec(body, registry, settings)
    check_priority_cap(session, principal.project_id, body.priority)
    if dry_run:
        response.status_code = 200
        return JobDryRun(
            dry_run=True, spec=spec, warnings=placement_warnings(session, settings, body)
        )
    job, created = job_service.submit_job(
        session,
        project_id=principal.project_id,
        spec=spec,
        digest=request_hash(body),
        idempotency_key=idempotency_key,
        before_insert=lambda: limiter.check(principal.token_id),
    )
    if created:
        # Placed and sent once the response is out (api/db/scheduling.py): a pass that places
        # many jobs at once must not hold up this client's answer.
        background.add_task(scheduler.run_pass)
    else:
        response.headers["Idempotent-Replayed"] = "true"
    response.headers["Location"] = f"/v1/jobs/{job.id}"
    return job_public(session, job, settings.heartbeat_timeout_s)


@router.get("", response_model=JobList, summary="List jobs", responses=error_responses(401, 422))
def list_jobs(
    session: SessionDep,
    principal: AuthDep,
    settings: SettingsDep,
    status: Annotated[
        list[str] | None, Query(description=f"Only these statuses ({', '.join(STATUS_VALUES)}).")
    ] = None,
    tag: Annotated[list[Tag] | None, Query(description="Only jobs carrying every tag.")] = None,
    search: Annotated[
        str | None,
        Query(max_length=200, description="Only jobs whose name contains this (any case)."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200, description="Page size."), CLIENT_INT] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page.")] = None,
) -> JobList:
    """The project's jobs, newest first, a page at a time."""
    for value in status or []:
        if value not in STATUS_VALUES:
            raise AppError(
                ErrorCode.validation_error,
                f"query.status: {value!r} is not one of {', '.join(STATUS_VALUES)}",
            )
    before = decode_cursor(cursor, datetime, str) if cursor is not None else None
    rows = job_queries.list_jobs(
        session,
        principal.project_id,
        statuses=[JobStatus(value) for value in status or []],
        tags=tag or [],
        search=search,
        before=before,
        limit=limit + 1,
    )
    jobs, next_cursor = page(rows, limit, key=lambda job: (job.created_at.isoformat(), job.id))
    items = job_summaries(session, jobs, settings.heartbeat_timeout_s)
    return JobList(items=items, next_cursor=next_cursor)


@router.get(
    "/{job_id}",
    response_model=JobPublic,
    summary="Read a job",
    responses=error_responses(401, 404),
)
def read_job(
    job_id: str, session: SessionDep, principal: AuthDep, settings: SettingsDep
) -> JobPublic:
    """Status, timestamps, attempt, progress, latest metrics, best checkpoint, error summary
    and the status history; while queued, `queue` (position, jobs ahead, pending reason), and
    once placed, `placement` (worker and GPUs)."""
    job = require_job(session, principal, job_id)
    return job_public(session, job, settings.heartbeat_timeout_s)


@router.post(
    "/{job_id}/cancel",
    response_model=JobPublic,
    summary="Cancel a job",
    responses=error_responses(401, 404, 409),
)
def cancel_job(
    job_id: str,
    session: SessionDep,
    principal: AuthDep,
    settings: SettingsDep,
    scheduler: SchedulerDep,
) -> JobPublic:
    """A queued job is cancelled at once and never starts. A running job becomes
    `cancelling`: its worker stops at the next batch boundary, saves a last checkpoint and ends
    `cancelled`. Cancelling again is safe: a cancelling or cancelled job answers 200 with the
    job as it is. A job that already succeeded or failed answers 409 `job_not_cancellable`."""
    require_job(session, principal, job_id)
    job = job_service.cancel_job(session, job_id)
    scheduler.wake()  # a cancelled job may have freed slots
    return job_public(session, job, settings.heartbeat_timeout_s)
