"""One job's page, and its cancel form."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from starlette.responses import RedirectResponse, Response

from api.db.checkpoints import list_checkpoints
from api.db.events import last_event, latest_events
from api.db.jobs import list_transitions
from api.db.models import EventType, JobStatus, utcnow
from api.db.queue import queue_info
from api.deps import SessionDep, SettingsDep, require_job
from api.services import jobs as job_service
from api.ui.auth import UiPrincipalDep, require_csrf
from api.ui.templates import render
from api.ui.views import duration_s, input_width, monitor_of, progress_percent

router = APIRouter(include_in_schema=False)

LOG_TAIL = 200  # lines shown when the page opens; new ones arrive live
CANCELLABLE = frozenset({JobStatus.queued, JobStatus.running})


@router.get("/jobs/{job_id}")
def job_page(
    job_id: str,
    request: Request,
    session: SessionDep,
    principal: UiPrincipalDep,
    settings: SettingsDep,
) -> Response:
    """Status, attempts, progress, spec, charts, log tail, checkpoints, cancel and predict.

    The page opens the event stream after the newest event it was rendered with, so nothing
    logged meanwhile is missed and nothing shown is repeated."""
    job = require_job(session, principal, job_id)
    newest = last_event(session, job.id)
    logs = latest_events(session, job.id, EventType.log, LOG_TAIL)
    monitor = monitor_of(job.spec or {})
    context = {
        "job": job,
        "since": newest[0] if newest else 0,
        "transitions": list_transitions(session, job.id),
        "checkpoints": list_checkpoints(session, job.id),
        "log_lines": [
            (e.seq, str(e.data.get("stream", "")), str(e.data.get("line", ""))) for e in logs
        ],
        "monitor": monitor,
        "percent": progress_percent(job.progress or {}),
        "duration_s": duration_s(job),
        "input_width": input_width(job.spec or {}),
        "cancellable": job.status in CANCELLABLE,
        "placement": job.placement,
        "queue": queue_info(session, job, utcnow(), settings.heartbeat_timeout_s),
    }
    return render(request, "job.html", context)


@router.post("/jobs/{job_id}/cancel", dependencies=[Depends(require_csrf)])
def cancel_job(job_id: str, session: SessionDep, principal: UiPrincipalDep) -> Response:
    """The API's cancel (a 409 for a finished job becomes an error page), then back to the job."""
    require_job(session, principal, job_id)
    job_service.cancel_job(session, job_id)
    return RedirectResponse(f"/ui/jobs/{job_id}", status_code=303)
