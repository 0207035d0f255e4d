"""Dashboard pages: login and logout, the jobs table, compare, submit."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from starlette.responses import RedirectResponse, Response

from api.db import jobs as job_queries
from api.db.metric_history import list_series
from api.db.models import Job, JobStatus
from api.db.ui_sessions import close_session, open_session
from api.deps import SessionDep
from api.errors import AppError, ErrorCode
from api.pagination import decode_cursor, page
from api.params import CLIENT_INT
from api.ui.auth import (
    COOKIE,
    UiPrincipalDep,
    clear_session_cookie,
    require_csrf,
    set_session_cookie,
)
from api.ui.templates import render
from api.ui.views import job_rows, progress_percent, spec_differences
from trainyard.schemas.jobs import JobCreate

router = APIRouter(include_in_schema=False)

STATUS_VALUES = tuple(s.value for s in JobStatus)
TAG_PATTERN = re.compile(r"^[A-Za-z0-9_.:=\-]{1,64}$")
MAX_COMPARE = 10


def safe_next(target: str | None) -> str:
    """Only a dashboard path: never another site (an open redirect) or a protocol-relative URL."""
    if target and target.startswith("/ui/") and not target.startswith("//"):
        return target
    return "/ui/"


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:
    return render(request, "login.html", {"next": safe_next(next), "error": None})


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    token: Annotated[str, Form(max_length=1000)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/ui/",
) -> Response:
    """A valid API token opens a session (303 to the dashboard); anything else is the form
    again with an error (401). A login posted from another site is refused (login CSRF: it
    would sign the browser into someone else's project)."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise AppError(ErrorCode.csrf_failed, "log in from the dashboard's own login form")
    opened = open_session(session, token.strip()) if token.strip() else None
    if opened is None:
        session.rollback()
        error = "Paste an API token." if not token.strip() else "Unknown, expired or revoked token."
        context = {"next": safe_next(next), "error": error}
        return render(request, "login.html", context, status_code=401)
    expires_at = opened.row.expires_at
    session.commit()
    response = RedirectResponse(safe_next(next), status_code=303)
    set_session_cookie(request, response, opened.secret, expires_at)
    return response


@router.post("/logout", dependencies=[Depends(require_csrf)])
def logout(request: Request, session: SessionDep) -> Response:
    close_session(session, request.cookies.get(COOKIE, ""))
    session.commit()
    response = RedirectResponse("/ui/login", status_code=303)
    clear_session_cookie(request, response)
    return response


@router.get("/")
def jobs_page(
    request: Request,
    session: SessionDep,
    principal: UiPrincipalDep,
    status: Annotated[str, Query(max_length=20)] = "",
    tag: Annotated[str, Query(max_length=64)] = "",
    q: Annotated[str, Query(max_length=200)] = "",
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=200), CLIENT_INT] = 50,
) -> Response:
    """The project's jobs, newest first, filtered and a page at a time."""
    problems = []
    if status and status not in STATUS_VALUES:
        problems.append(f"Status {status!r} is not one of {', '.join(STATUS_VALUES)}.")
    if tag and not TAG_PATTERN.match(tag):
        problems.append("A tag holds only letters, digits and _ . : = - (at most 64).")
    jobs: list[Job] = []
    next_cursor: str | None = None
    if not problems:
        before = decode_cursor(cursor, datetime, str) if cursor else None
        found = job_queries.list_jobs(
            session,
            principal.project_id,
            statuses=[JobStatus(status)] if status else [],
            tags=[tag] if tag else [],
            search=q or None,
            before=before,
            limit=limit + 1,
        )
        jobs, next_cursor = page(found, limit, key=lambda j: (j.created_at.isoformat(), j.id))
    context = {
        "rows": job_rows(session, jobs),
        "filters": {"status": status, "tag": tag, "q": q, "limit": limit},
        "cursor": cursor,
        "next_cursor": next_cursor,
        "statuses": STATUS_VALUES,
        "problems": problems,
        "percent": progress_percent,
    }
    return render(request, "jobs.html", context)


@router.get("/compare")
def compare_page(
    request: Request,
    session: SessionDep,
    principal: UiPrincipalDep,
    job: Annotated[list[str], Query(max_length=10 * MAX_COMPARE)] = [],  # noqa: B006
    metric: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    """Overlay one metric of up to 10 jobs, and the hyperparameters where they differ."""
    chosen = list(dict.fromkeys(job))[:MAX_COMPARE]
    jobs = [j for j in (job_queries.get_job(session, i, principal.project_id) for i in chosen) if j]
    names = sorted({s.name for j in jobs for s in list_series(session, j.id)})
    recent = job_queries.list_jobs(session, principal.project_id, limit=50)
    context = {
        "jobs": jobs,
        "missing": len(chosen) - len(jobs),
        "too_many": len(dict.fromkeys(job)) > MAX_COMPARE,
        "max_compare": MAX_COMPARE,
        "metric": metric if metric in names else (names[0] if names else ""),
        "metric_names": names,
        "recent": [j for j in recent if j.id not in {c.id for c in jobs}],
        "differences": spec_differences([j.spec or {} for j in jobs]),
    }
    return render(request, "compare.html", context)


@router.get("/submit")
def submit_page(
    request: Request,
    session: SessionDep,
    principal: UiPrincipalDep,
    from_job: Annotated[str | None, Query(alias="from", max_length=64)] = None,
) -> Response:
    """The job form, built in the browser from the JSON Schemas; `?from=<job>` starts from
    that job's spec ("submit again with changes")."""
    source = job_queries.get_job(session, from_job, principal.project_id) if from_job else None
    prefill = dict(source.spec) if source is not None else {}
    context = {
        "job_schema": JobCreate.model_json_schema(),
        "prefill": prefill,
        "source": source,
    }
    return render(request, "submit.html", context)
