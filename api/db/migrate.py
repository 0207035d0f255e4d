"""Run Alembic migrations from code (the CLI, tests, `make run`), from any working directory.

The scripts live in the `migrations` package, so the installed package finds them without
alembic.ini; alembic.ini at the repository root is for the `alembic` command line only.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config


def _script_location() -> str:
    import migrations

    # __path__ rather than __file__: an editable install may map it as a namespace package.
    return str(Path(next(iter(migrations.__path__))).resolve())


def alembic_config(database_url: str) -> Config:
    """A Config bound to `database_url`, independent of the current directory."""
    config = Config()
    config.set_main_option("script_location", _script_location())
    # '%' is ConfigParser interpolation syntax; URL-encoded passwords contain it.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.attributes["configure_logger"] = False
    return config


def _ensure_sqlite_folder(database_url: str) -> None:
    # sqlite:///var/x.sqlite fails with "unable to open database file" if var/ is missing.
    prefix = "sqlite:///"
    if database_url.startswith(prefix) and ":memory:" not in database_url:
        Path(database_url[len(prefix) :].split("?")[0]).parent.mkdir(parents=True, exist_ok=True)


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the database at `database_url` up to `revision` (default: the newest)."""
    _ensure_sqlite_folder(database_url)
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    """Take the database down to `revision`; "base" drops every table."""
    command.downgrade(alembic_config(database_url), revision)


def current_revision(database_url: str) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    from alembic.runtime.migration import MigrationContext

    from api.db.session import get_engine

    with get_engine(database_url).connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
