"""The `trainyard` command: the client commands, and the server commands loaded on demand.

Client commands (submit, watch, jobs, status, logs, cancel, download, predict, components,
admin) talk HTTP through `trainyard.Client` and need only the client's packages. Server
commands (serve, worker, migrate, token, check, demo) live in `server.commands`, which imports
nothing heavy until one of them runs.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from trainyard.cli.admin import add_admin_commands
from trainyard.cli.common import common_options
from trainyard.cli.fleet import add_queue
from trainyard.cli.jobs import add_artifacts, add_jobs, add_submit, add_watch

CLIENT_COMMANDS = (add_submit, add_watch, add_jobs, add_queue, add_artifacts, add_admin_commands)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trainyard", description="Trainyard training service")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # Looked up by name: the client layer never imports the server at import time, and this
    # module holds only argparse definitions.
    importlib.import_module("server.commands").add_server_commands(sub)
    common = common_options()
    for add in CLIENT_COMMANDS:
        add(sub, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
