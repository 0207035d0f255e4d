"""The `trainyard` command: one function per subcommand, each registered by an `add_*` function.

To add a subcommand, write `add_<name>(subparsers)` that builds its parser and sets
`func=<handler>`, and append it to SUBCOMMANDS. A handler takes the parsed arguments and returns
the exit status. Server-side commands read their settings from the environment (DATABASE_URL,
BROKER_URL, ...), like the services they start.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from trainyard.cli_client import add_client_commands

Subparsers = Any  # argparse's _SubParsersAction is private


# ---------------------------------------------------------------- serve


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    uvicorn.run(
        "api.main:app",
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        proxy_headers=True,
        # Event streams are ended on shutdown and clients resume by id elsewhere; never let
        # one lingering connection hold a restart up.
        timeout_graceful_shutdown=5,
    )
    return 0


def add_serve(sub: Subparsers) -> None:
    p = sub.add_parser("serve", help="run the HTTP API (uvicorn)")
    p.add_argument("--host", default=os.environ.get("TRAINYARD_HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("TRAINYARD_PORT", "8000")))
    p.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    p.add_argument("--log-level", default="info")
    p.set_defaults(func=serve)


# ---------------------------------------------------------------- worker


def worker_argv(queue: str, concurrency: int, loglevel: str, hostname: str | None) -> list[str]:
    """Celery worker arguments. One job per process at a time: a solo pool for one slot (torch
    stays in this process and its threads are never forked), prefork for more."""
    pool = (
        ["--pool=solo"] if concurrency <= 1 else ["--pool=prefork", f"--concurrency={concurrency}"]
    )
    return [
        "worker",
        *pool,
        f"--queues={queue}",
        f"--loglevel={loglevel}",
        f"--hostname={hostname or f'trainyard-{os.getpid()}@%h'}",
        "--without-gossip",
        "--without-mingle",
    ]


def worker(args: argparse.Namespace) -> int:
    from api.settings import get_settings
    from worker.celery_app import make_celery

    settings = get_settings()
    app = make_celery(settings)
    app.worker_main(
        worker_argv(settings.queue_name, args.concurrency, args.loglevel, args.hostname)
    )
    return 0


def add_worker(sub: Subparsers) -> None:
    p = sub.add_parser("worker", help="run a Celery worker that trains jobs")
    p.add_argument("--concurrency", type=int, default=1, help="jobs run at once (processes)")
    p.add_argument("--loglevel", default="INFO")
    p.add_argument(
        "--hostname", default=None, help="Celery node name (default: unique per process)"
    )
    p.set_defaults(func=worker)


# ---------------------------------------------------------------- migrate


def migrate(args: argparse.Namespace) -> int:
    from api.db.migrate import upgrade
    from api.settings import get_settings

    url = get_settings().database_url
    upgrade(url, args.revision)
    print(f"database at revision {args.revision}: {_redact(url)}")
    return 0


def add_migrate(sub: Subparsers) -> None:
    p = sub.add_parser("migrate", help="bring the database schema up to date (Alembic)")
    p.add_argument("--revision", default="head")
    p.set_defaults(func=migrate)


def _redact(url: str) -> str:
    # Never print a password: postgresql://user:secret@host -> postgresql://user:***@host
    scheme, sep, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    if at and ":" in creds:
        creds = creds.split(":", 1)[0] + ":***"
    return f"{scheme}{sep}{creds}{at}{host}"


# ---------------------------------------------------------------- check


def check(args: argparse.Namespace) -> int:
    """Exit 0 when the database and the broker answer (a container health check)."""
    from sqlalchemy import text

    from api.db.session import get_engine
    from api.settings import get_settings
    from worker.celery_app import make_celery

    settings = get_settings()
    try:
        with get_engine(settings.database_url).connect() as conn:
            conn.execute(text("SELECT 1"))
        with make_celery(settings).connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=args.timeout)
    except Exception as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1
    print("ok")
    return 0


def add_check(sub: Subparsers) -> None:
    p = sub.add_parser("check", help="check that the database and the broker answer")
    p.add_argument("--timeout", type=float, default=5.0)
    p.set_defaults(func=check)


# ---------------------------------------------------------------- token


def create_token_command(args: argparse.Namespace) -> int:
    from api.db.session import session_scope
    from api.db.tokens import create_token
    from api.settings import get_settings

    with session_scope(get_settings().database_url) as session:
        _, plaintext = create_token(session, args.project, name=args.name, is_admin=args.admin)
    print(plaintext)
    return 0


def add_token(sub: Subparsers) -> None:
    p = sub.add_parser("token", help="manage API tokens")
    token_sub = p.add_subparsers(dest="token_command", required=True)
    create = token_sub.add_parser("create", help="create a token and print it (shown once)")
    create.add_argument("--project", default="default", help="project (created when missing)")
    create.add_argument("--name", default="cli", help="a label for the token")
    create.add_argument("--admin", action="store_true", help="may manage projects and tokens")
    create.set_defaults(func=create_token_command)


# ---------------------------------------------------------------- entry point

SUBCOMMANDS: list[Callable[[Subparsers], None]] = [
    add_serve,
    add_worker,
    add_migrate,
    add_token,
    add_check,
    add_client_commands,  # submit, jobs, status, watch, logs, cancel, ... (trainyard/cli_client.py)
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trainyard", description="Trainyard training service")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for add in SUBCOMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
