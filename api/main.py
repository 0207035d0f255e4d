"""The FastAPI application: `create_app(settings, dispatcher=...)`, and `app` for uvicorn.

`uvicorn api.main:app` builds the app from the environment on first access, so importing this
module reads no settings and imports no torch.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI

from api.deps import refuse_unstorable_url_values
from api.handlers import install_error_handlers
from api.middleware import BodySizeLimit
from api.openapi import install_openapi
from api.ratelimit import RateLimiter
from api.routes import (
    admin,
    checkpoints,
    components,
    events,
    fleet,
    health,
    jobs,
    logs,
    metrics,
    predict,
)
from api.services.events import event_hub, install_event_hub
from api.services.predict import ModelCache
from api.services.recovery import Dispatcher, default_probe, run_recovery
from api.services.scheduler import Scheduler
from api.settings import Settings, get_settings
from api.ui import install_ui

DESCRIPTION = """Train PyTorch models over HTTP. Submit a job that names registered components
(`GET /v1/components`), watch it run, download its checkpoints and call it for predictions.
Every route but `/health` needs `Authorization: Bearer <token>`. Errors are
`{"error_code", "detail"}` with stable codes."""


def default_dispatcher(settings: Settings) -> Dispatcher:
    """Send a placed job's id to its worker's own Celery queue (worker.dispatch)."""
    try:
        from worker.dispatch import send_placed
    except ImportError as exc:  # an API-only install: jobs wait, undispatched, for a reconciler
        reason = f"worker.dispatch is not importable: {exc}"

        def unavailable(job_id: str) -> None:
            raise RuntimeError(reason)

        return unavailable
    return lambda job_id: send_placed(job_id, settings)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Import the components (and torch) at startup, not on the first request, so that a bad
    # COMPONENT_MODULES setting stops the server at once with its import error.
    from catalog.registry import get_registry

    get_registry(app.state.settings)
    event_hub(app).start()  # bound to the serving loop before any request: see close_streams
    recovery = start_recovery(app)
    scheduling = asyncio.create_task(app.state.scheduler.run())
    try:
        yield
    finally:
        scheduling.cancel()
        if recovery is not None:
            recovery.cancel()
        await event_hub(app).aclose()  # ends the streams and closes the Redis listener


def start_recovery(app: FastAPI) -> asyncio.Task[None] | None:
    """The reaper and outbox reconciler (api/services/recovery.py), unless turned off."""
    settings = app.state.settings
    if settings.recovery_interval_s <= 0:
        return None
    dispatch = app.state.dispatcher
    return asyncio.create_task(run_recovery(settings, dispatch, default_probe(settings)))


def create_app(settings: Settings | None = None, dispatcher: Dispatcher | None = None) -> FastAPI:
    """Build the app. `dispatcher(job_id)` queues a job; tests pass their own recorder."""
    settings = settings or get_settings()
    app = FastAPI(
        title="Trainyard",
        version="0.1.0",
        description=DESCRIPTION,
        docs_url=None,  # api/openapi.py serves /docs from the app's own Swagger UI files
        openapi_url="/openapi.json",
        lifespan=lifespan,
        dependencies=[Depends(refuse_unstorable_url_values)],
    )
    app.state.settings = settings
    app.state.dispatcher = dispatcher or default_dispatcher(settings)
    app.state.scheduler = Scheduler(settings, app.state.dispatcher)
    app.state.rate_limiter = RateLimiter.from_settings(settings)
    app.state.model_cache = ModelCache(max_models=4)
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)
    install_event_hub(app, settings)
    routers = (health, jobs, metrics, checkpoints, predict, components, admin, events, logs, fleet)
    for module in routers:
        app.include_router(module.router)
    install_ui(app)  # the dashboard at /ui (api/ui), after the API routes
    install_openapi(app)
    return app


_app: FastAPI | None = None


def __getattr__(name: str) -> Any:
    # `uvicorn api.main:app` resolves `app` here, on first use, from the environment.
    global _app
    if name == "app":
        if _app is None:
            _app = create_app()
        return _app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
