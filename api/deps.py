"""FastAPI dependencies as `Annotated` aliases: SettingsDep, SessionDep, AuthDep, AdminDep, ..."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from api.artifacts import ArtifactStore, get_artifact_store
from api.db.jobs import get_job
from api.db.models import Job
from api.db.session import session_factory
from api.db.tokens import authenticate
from api.errors import AppError, ErrorCode
from api.ratelimit import RateLimiter
from api.services.events import EventHub, event_hub
from api.services.predict import ModelCache
from api.services.recovery import Dispatcher
from api.services.scheduler import Scheduler
from api.settings import Settings
from catalog.registry import Registry, get_registry


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


def get_session(settings: SettingsDep) -> Iterator[Session]:
    """One session per request; handlers commit what they change, the rest is rolled back."""
    session = session_factory(settings.database_url)()
    try:
        yield session
    finally:
        session.close()


SessionDep = Annotated[Session, Depends(get_session)]

_bearer = HTTPBearer(auto_error=False, description="A token from `trainyard token create`.")


@dataclass(frozen=True)
class Principal:
    """Who is calling: a live token and its project."""

    token_id: str
    project_id: str
    is_admin: bool


def get_principal(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None:
        raise AppError(
            ErrorCode.unauthorized,
            "missing token; send 'Authorization: Bearer <token>' (trainyard token create)",
            headers=challenge,
        )
    token = authenticate(session, credentials.credentials)
    principal = (
        None
        if token is None
        else Principal(token_id=token.id, project_id=token.project_id, is_admin=token.is_admin)
    )
    # Hand the connection back before the handler runs: a request must not hold one while it
    # waits for a worker thread, or a burst of requests can starve the pool.
    session.rollback()
    if principal is None:
        raise AppError(
            ErrorCode.unauthorized, "unknown, expired or revoked token", headers=challenge
        )
    return principal


AuthDep = Annotated[Principal, Depends(get_principal)]


def get_admin(principal: AuthDep) -> Principal:
    if not principal.is_admin:
        raise AppError(ErrorCode.forbidden, "this needs an admin token")
    return principal


AdminDep = Annotated[Principal, Depends(get_admin)]


def get_registry_dep(settings: SettingsDep) -> Registry:
    # The first call imports the built-ins (and torch); api.main itself stays light.
    return get_registry(settings)


RegistryDep = Annotated[Registry, Depends(get_registry_dep)]


def get_dispatcher(request: Request) -> Dispatcher:
    return request.app.state.dispatcher  # type: ignore[no-any-return]


DispatcherDep = Annotated[Dispatcher, Depends(get_dispatcher)]


def get_scheduler(request: Request) -> Scheduler:
    return request.app.state.scheduler  # type: ignore[no-any-return]


SchedulerDep = Annotated[Scheduler, Depends(get_scheduler)]


def get_model_cache(request: Request) -> ModelCache:
    return request.app.state.model_cache  # type: ignore[no-any-return]


ModelCacheDep = Annotated[ModelCache, Depends(get_model_cache)]


def get_store(settings: SettingsDep) -> ArtifactStore:
    return get_artifact_store(settings)


StoreDep = Annotated[ArtifactStore, Depends(get_store)]


def get_event_hub(request: Request) -> EventHub:
    return event_hub(request.app)


EventHubDep = Annotated[EventHub, Depends(get_event_hub)]


def get_rate_limiter(request: Request) -> RateLimiter:
    return request.app.state.rate_limiter  # type: ignore[no-any-return]


RateLimiterDep = Annotated[RateLimiter, Depends(get_rate_limiter)]


def require_job(session: Session, principal: Principal, job_id: str) -> Job:
    """The job if it is in the caller's project; otherwise (missing or not theirs) a 404."""
    job = get_job(session, job_id, principal.project_id)
    if job is None:
        raise AppError(ErrorCode.job_not_found, f"no job {job_id} in this project")
    return job


def refuse_unstorable_url_values(request: Request) -> None:
    """A NUL in a path or query value is a 422 on every database, before any query runs.

    PostgreSQL cannot hold or search for NUL, SQLite can: without this check the same request
    would succeed embedded and fail in production, or fail halfway through a streamed body.
    """
    values = [*request.path_params.items(), *request.query_params.multi_items()]
    for name, value in values:
        if "\x00" in name or "\x00" in str(value):
            raise AppError(
                ErrorCode.validation_error,
                f"{name!r}: remove the NUL (\\u0000) character; no name, id or filter holds one",
            )
