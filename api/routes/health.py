"""/health: no auth, for load balancers and compose health checks."""

from __future__ import annotations

from fastapi import APIRouter, Response
from sqlalchemy import text

from api.db.session import get_engine
from api.deps import SettingsDep
from trainyard.schemas.health import HealthPublic

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_model=HealthPublic,
    summary="Health check",
    responses={503: {"model": HealthPublic, "description": "The database does not answer."}},
)
def health(settings: SettingsDep, response: Response) -> HealthPublic:
    """200 when the database answers a query, 503 otherwise. Needs no token."""
    try:
        with get_engine(settings.database_url).connect() as conn:
            conn.execute(text("SELECT 1"))
        ok = True
    except Exception:
        ok = False
    response.status_code = 200 if ok else 503
    return HealthPublic(status="ok" if ok else "unavailable", database=ok, version=_version())


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("trainyard")
    except PackageNotFoundError:
        return "unknown"
