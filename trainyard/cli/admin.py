"""`trainyard admin ...`: projects and tokens through the API, with an admin token.

`trainyard token create` writes to the database directly (for bootstrapping the first admin);
these commands go over HTTP, so they work from any machine that can reach the service.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from trainyard.cli.common import client_of, echo, print_json, reports_errors, table
from trainyard.cli.fleet import add_fleet_admin_commands


def _when(moment: datetime | None) -> str:
    return moment.isoformat(timespec="seconds") if moment else "-"


@reports_errors
def list_projects(args: argparse.Namespace) -> int:
    with client_of(args) as client:
        items = client.projects()
    if args.json:
        print_json([p.model_dump(mode="json") for p in items])
    else:
        table([[p.id, p.name, _when(p.created_at)] for p in items], ["ID", "NAME", "CREATED"])
    return 0


@reports_errors
def create_project(args: argparse.Namespace) -> int:
    with client_of(args) as client:
        project = client.create_project(args.name)
    echo(f"project {project.name} ({project.id})")
    return 0


@reports_errors
def list_tokens(args: argparse.Namespace) -> int:
    with client_of(args) as client:
        items = client.tokens(project=args.project)
    if args.json:
        print_json([t.model_dump(mode="json") for t in items])
        return 0
    rows = [
        [
            t.id,
            t.project_id,
            t.name,
            "yes" if t.is_admin else "",
            _when(t.expires_at),
            _when(t.revoked_at),
        ]
        for t in items
    ]
    table(rows, ["ID", "PROJECT", "NAME", "ADMIN", "EXPIRES", "REVOKED"])
    return 0


@reports_errors
def create_token(args: argparse.Namespace) -> int:
    fields: dict[str, Any] = {"is_admin": args.admin}
    if args.expires_at:
        fields["expires_at"] = args.expires_at
    with client_of(args) as client:
        created = client.create_token(args.project, name=args.name, **fields)
    echo(created.token)
    return 0


@reports_errors
def revoke_token(args: argparse.Namespace) -> int:
    with client_of(args) as client:
        token = client.revoke_token(args.token_id)
    echo(f"token {token.id} revoked at {_when(token.revoked_at)}")
    return 0


def add_admin_commands(sub: Any, common: argparse.ArgumentParser) -> None:
    admin = sub.add_parser("admin", help="projects and tokens over the API (admin token)")
    groups = admin.add_subparsers(dest="admin_command", required=True)

    p = groups.add_parser("projects", parents=[common], help="list projects")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=list_projects)
    p = groups.add_parser("project-create", parents=[common], help="create a project")
    p.add_argument("name")
    p.set_defaults(func=create_project)
    p = groups.add_parser("tokens", parents=[common], help="list tokens")
    p.add_argument("--project", help="only this project's tokens")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=list_tokens)
    p = groups.add_parser("token-create", parents=[common], help="create a token, print it once")
    p.add_argument("project", help="the project the token acts in")
    p.add_argument("--name", default="cli", help="a label for the token")
    p.add_argument("--admin", action="store_true", help="may manage projects and tokens")
    p.add_argument("--expires-at", help="ISO 8601 expiry time, e.g. 2027-01-01T00:00:00Z")
    p.set_defaults(func=create_token)
    p = groups.add_parser("token-revoke", parents=[common], help="revoke a token by id")
    p.add_argument("token_id")
    p.set_defaults(func=revoke_token)
    add_fleet_admin_commands(groups, common)
