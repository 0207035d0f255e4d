"""The web dashboard, served by the API itself under `/ui/` (`/` redirects there).

`install_ui(app)` mounts a sub-application at `/ui` that holds
- the pages (`api/ui/pages.py`, `api/ui/job_page.py`, `api/ui/admin_pages.py`): Jinja2 templates,
  every value autoescaped;
- the static files (`api/ui/static/`): a little plain JavaScript, the stylesheet and the vendored
  uPlot (`make vendor` refreshes it; versions and sha256 in `static/vendor/VENDOR.json`);
- the UI's data routes: the `/v1` routers mounted again under `/ui/api` (the same code and JSON
  as the API, so the pages read exactly what the API documents), plus the job event stream at
  `/ui/jobs/{id}/events` (`api/ui/live.py`).

Everything under `/ui` authenticates with the session cookie (`api/ui/auth.py`) and nothing else;
the `/v1` routes of the main app never read it. The sub-app shares the main app's state
(settings, dispatcher, event hub, rate limiter).
"""

from __future__ import annotations

from fastapi import Depends, FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from api.deps import get_principal, refuse_unstorable_url_values
from api.handlers import install_error_handlers
from api.routes import admin, checkpoints, components, jobs, logs, metrics, predict
from api.ui import admin_pages, job_page, live, pages
from api.ui.auth import require_csrf, session_principal
from api.ui.errors import install_ui_error_handlers
from api.ui.security import SecurityHeaders
from api.ui.templates import STATIC_DIR

# The /v1 routers the pages call (as /ui/api/v1/...). The event stream and health stay out:
# the UI has its own cookie-authenticated stream, and health needs no session.
DATA_ROUTERS = (jobs, metrics, logs, checkpoints, predict, components, admin)


def build_ui_app(parent: FastAPI) -> FastAPI:
    ui = FastAPI(
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        dependencies=[Depends(refuse_unstorable_url_values)],
    )
    ui.state = parent.state
    ui.dependency_overrides[get_principal] = session_principal
    install_error_handlers(ui)
    install_ui_error_handlers(ui)
    ui.add_middleware(SecurityHeaders)
    ui.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    for module in (pages, job_page, admin_pages, live):
        ui.include_router(module.router)
    for module in DATA_ROUTERS:
        ui.include_router(module.router, prefix="/api", dependencies=[Depends(require_csrf)])
    return ui


def install_ui(app: FastAPI) -> None:
    """Mount the dashboard at /ui and send / there."""
    app.mount("/ui", build_ui_app(app))

    @app.get("/", include_in_schema=False)
    def to_dashboard() -> RedirectResponse:
        return RedirectResponse("/ui/", status_code=307)
