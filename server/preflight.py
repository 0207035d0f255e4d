"""What a server command checks before it starts, and the one sentence it prints when it can't.

`serve` and `worker` refuse to start on a database that cannot be opened or was never migrated,
and on a COMPONENT_MODULES entry that cannot be imported: a service that comes up anyway would
fail every request or job later, with a traceback in a log. Any other server command that meets
such an error (`token create` outside the project folder, an unreachable PostgreSQL) prints the
same sentence instead of a traceback (`explain`).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from api.settings import Settings
from catalog.registry import ComponentError, get_registry

SQLITE = "sqlite:///"


def import_from_current_folder() -> None:
    """Let COMPONENT_MODULES name a module in the folder the command runs from (my_models.py),
    as `python -m` would; appended, so it never shadows an installed package. Child processes
    (job processes, uvicorn workers) get it through PYTHONPATH."""
    here = os.getcwd()
    if here not in sys.path:
        sys.path.append(here)
    paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    if here not in paths:
        os.environ["PYTHONPATH"] = os.pathsep.join([*paths, here])


def redact(url: str) -> str:
    """Never print a password: postgresql://user:secret@host -> postgresql://user:***@host"""
    scheme, sep, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    if at and ":" in creds:
        creds = creds.split(":", 1)[0] + ":***"
    return f"{scheme}{sep}{creds}{at}{host}"


def _where(settings: Settings) -> str:
    return f"the database {redact(settings.database_url)}"


def _fix(settings: Settings) -> str:
    if settings.is_sqlite:
        return "set DATABASE_URL, or TRAINYARD_HOME for the embedded SQLite file"
    return "start it, or point DATABASE_URL at the right one"


def database_problem(settings: Settings) -> str | None:
    """None when the database answers and is migrated; else what is wrong and what to do."""
    from api.db.migrate import current_revision

    path = _sqlite_path(settings.database_url)
    if path is not None and not path.is_file():
        return (
            f"there is no database at {path}: run `trainyard migrate` to create it, or "
            f"{_fix(settings)} (default: {settings.trainyard_home})"
        )
    try:
        revision = current_revision(settings.database_url)
    except (DBAPIError, ArgumentError, NoSuchModuleError) as exc:
        return f"cannot open {_where(settings)} ({_reason(exc)}); {_fix(settings)}"
    if revision is None:
        return f"{_where(settings)} has no tables yet: run `trainyard migrate` first"
    return None


def components_problem(settings: Settings) -> str | None:
    """None when the built-in components and every COMPONENT_MODULES module load."""
    try:
        get_registry(settings)
    except ComponentError as exc:
        return str(exc)
    return None


def explain(exc: BaseException) -> str | None:
    """The sentence for an error a server command can meet before it does anything useful
    (database, settings, components); None for anything else (a bug: let it raise)."""
    if isinstance(exc, ValidationError) and exc.title == Settings.__name__:
        first = exc.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "a setting"
        return f"invalid setting {name}: {first['msg']}"
    if isinstance(exc, ComponentError):
        return str(exc)
    if isinstance(exc, (DBAPIError, ArgumentError, NoSuchModuleError)):
        settings = Settings()
        if "no such table" in str(exc) or "does not exist" in str(exc):
            return f"{_where(settings)} has no tables yet: run `trainyard migrate` first"
        return f"cannot use {_where(settings)} ({_reason(exc)}); {_fix(settings)}"
    return None


def _sqlite_path(url: str) -> Path | None:
    if not url.startswith(SQLITE) or ":memory:" in url:
        return None
    return Path(url[len(SQLITE) :].split("?")[0])


def _reason(exc: BaseException) -> str:
    original = getattr(exc, "orig", None) or exc
    return str(original).strip().splitlines()[0] if str(original).strip() else type(exc).__name__
