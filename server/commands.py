"""The server-side `trainyard` commands: serve, worker, migrate, token, check, demo.

This module imports only the standard library, so that `trainyard --help` lists these commands
on a machine with only the client installed; each handler loads the server when it runs, and
says what to install when the server extra is missing. Settings come from the environment
(DATABASE_URL, BROKER_URL, ...), like the services these commands start.

To add a command, write `add_<name>(subparsers)` that builds its parser and sets
`func=<handler>`, and append it to SERVER_COMMANDS. A handler returns the exit status.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Callable
from typing import Any

Subparsers = Any  # argparse's _SubParsersAction is private
Handler = Callable[[argparse.Namespace], int]


# The packages that only `pip install "trainyard[server]"` brings.
SERVER_PACKAGES = frozenset(
    {"torch", "celery", "sqlalchemy", "fastapi", "uvicorn", "alembic", "pydantic_settings",
     "psycopg", "redis", "kombu", "numpy", "sklearn", "fsspec", "sse_starlette", "limits"}
)  # fmt: skip


def needs_server(handler: Handler) -> Handler:
    """Run a server command. A missing server dependency, an unusable database, a bad setting
    or a broken COMPONENT_MODULES entry becomes one line on stderr and exit status 2."""

    @functools.wraps(handler)
    def run(args: argparse.Namespace) -> int:
        try:
            _import_from_current_folder()
            return handler(args)
        except ModuleNotFoundError as exc:
            if (exc.name or "").split(".")[0] not in SERVER_PACKAGES:
                raise
            print(
                f"error: `trainyard {args.command}` runs the server, which needs packages this "
                f'install lacks ({exc.name}). Install them with: pip install "trainyard[server]"',
                file=sys.stderr,
            )
            return 2
        except Exception as exc:
            from server.preflight import explain

            sentence = explain(exc)
            if sentence is None:
                raise
            command = " ".join(filter(None, [args.command, getattr(args, "token_command", None)]))
            print(f"error: `trainyard {command}`: {sentence}", file=sys.stderr)
            return 2

    return run


def _import_from_current_folder() -> None:
    from server.preflight import import_from_current_folder

    import_from_current_folder()


def refuse_to_start(command: str, components: bool = True) -> int | None:
    """None when the database answers and is migrated and (with `components`) every
    COMPONENT_MODULES entry imports; else the reason on stderr and exit status 2."""
    from api.settings import get_settings
    from server.preflight import components_problem, database_problem

    settings = get_settings()
    problem = database_problem(settings) or (components_problem(settings) if components else None)
    if problem is None:
        return None
    print(f"error: `trainyard {command}` cannot start: {problem}", file=sys.stderr)
    return 2


# ---------------------------------------------------------------- serve


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    if (refused := refuse_to_start("serve")) is not None:
        return refused
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
    p = sub.add_parser(
        "serve",
        help="run the HTTP API (uvicorn)",
        description="Checks the database and imports COMPONENT_MODULES (looked up on the "
        "Python path and in the current folder) first, and stops with one line if either fails.",
    )
    p.add_argument("--host", default=os.environ.get("TRAINYARD_HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("TRAINYARD_PORT", "8000")))
    p.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    p.add_argument("--log-level", default="info")
    p.set_defaults(func=needs_server(serve))


# ---------------------------------------------------------------- worker


def worker(args: argparse.Namespace) -> int:
    from api.settings import get_settings
    from worker.start import WorkerOptions, start_worker

    cpu_slots = args.cpu_slots
    if args.concurrency is not None:
        print("note: --concurrency is now --cpu-slots (jobs follow the inventory)", file=sys.stderr)
        cpu_slots = args.concurrency
    options = WorkerOptions(
        args.gpus, cpu_slots, args.pool, args.label, args.loglevel, args.hostname
    )
    if (refused := refuse_to_start("worker")) is not None:
        return refused
    return start_worker(get_settings(), options)


def add_worker(sub: Subparsers) -> None:
    env = os.environ.get
    p = sub.add_parser(
        "worker",
        help="run a worker: it registers its GPUs and CPU slots and runs each job in a process "
        "of its own",
        description="A worker runs one job per free slot set at once: a job asking for N GPUs "
        "gets N of this worker's GPUs (CUDA_VISIBLE_DEVICES), a CPU job one CPU slot.",
    )
    p.add_argument(
        "--gpus",
        default=env("WORKER_GPUS"),
        help="GPUs it owns: '0,1', 'none', or 'auto' (every GPU NVML or torch.cuda sees; the "
        "default). On a machine without a visible GPU, '0,1' declares a simulated inventory. "
        "Env: WORKER_GPUS",
    )
    p.add_argument(
        "--cpu-slots",
        type=int,
        default=env("WORKER_CPU_SLOTS") or "1",  # a string: argparse checks it only when used
        help="CPU-only jobs it runs at once (default 1). Env: WORKER_CPU_SLOTS",
    )
    p.add_argument(
        "--pool", default=env("WORKER_POOL") or "default", help="its pool. Env: WORKER_POOL"
    )
    p.add_argument(
        "--label",
        action="append",
        default=[env("WORKER_LABELS")] if env("WORKER_LABELS") else [],
        help="a label k=v jobs may ask for (repeatable). Env: WORKER_LABELS='k=v,k2=v2'",
    )
    p.add_argument(
        "--concurrency", type=int, default=None, help="old name of --cpu-slots (deprecated)"
    )
    p.add_argument("--loglevel", default="INFO")
    p.add_argument(
        "--hostname", default=None, help="Celery node name (default: unique per process)"
    )
    p.set_defaults(func=needs_server(worker))


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
    p.set_defaults(func=needs_server(migrate))


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
    from server.preflight import explain
    from worker.celery_app import make_celery

    settings = get_settings()
    try:
        with get_engine(settings.database_url).connect() as conn:
            conn.execute(text("SELECT 1"))
        with make_celery(settings).connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=args.timeout)
    except Exception as exc:
        print(f"unhealthy: {explain(exc) or exc}", file=sys.stderr)
        return 1
    print("ok")
    return 0


def add_check(sub: Subparsers) -> None:
    p = sub.add_parser("check", help="check that the database and the broker answer")
    p.add_argument("--timeout", type=float, default=5.0)
    p.set_defaults(func=needs_server(check))


# ---------------------------------------------------------------- token


def create_token_command(args: argparse.Namespace) -> int:
    from api.db.session import session_scope
    from api.db.tokens import create_token
    from api.settings import get_settings

    if (refused := refuse_to_start("token create", components=False)) is not None:
        return refused
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
    create.set_defaults(func=needs_server(create_token_command))


# ---------------------------------------------------------------- demo


def demo(args: argparse.Namespace) -> int:
    from server.demo import main as run_demo

    return int(run_demo() or 0)


def add_demo(sub: Subparsers) -> None:
    p = sub.add_parser("demo", help="start the embedded service and train a demo job (make run)")
    p.set_defaults(func=needs_server(demo))


# ---------------------------------------------------------------- registration

SERVER_COMMANDS: list[Callable[[Subparsers], None]] = [
    add_serve,
    add_worker,
    add_migrate,
    add_token,
    add_check,
    add_demo,
]


def add_server_commands(sub: Subparsers) -> None:
    """Register every server command (called by `trainyard.cli.build_parser`)."""
    for add in SERVER_COMMANDS:
        add(sub)
