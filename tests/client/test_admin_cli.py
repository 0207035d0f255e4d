"""`trainyard admin ...`: an admin manages projects and tokens over HTTP; others cannot."""

from __future__ import annotations

import json
import uuid

from tests.client.conftest import Cli, ok
from tests.conftest import issue_token
from tests.e2e.conftest import Stack


def test_an_admin_creates_a_project_and_a_token_that_works_then_revokes_it(
    cli: Cli, client_stack: Stack
) -> None:
    admin = issue_token(client_stack.settings.database_url, "ops", is_admin=True).token
    project = f"team-{uuid.uuid4().hex[:6]}"

    ok(cli("admin", "project-create", project, token=admin))
    assert project in ok(cli("admin", "projects", token=admin))

    secret = ok(cli("admin", "token-create", project, "--name", "ci", token=admin)).strip()
    assert ok(cli("jobs", token=secret))  # the new token is accepted

    listed = ok(cli("admin", "tokens", "--project", project, "--json", token=admin))
    token_id = next(t["id"] for t in json.loads(listed) if t["name"] == "ci")
    ok(cli("admin", "token-revoke", token_id, token=admin))

    refused = cli("jobs", token=secret)
    assert refused.returncode == 1
    assert "unauthorized" in refused.stderr


def test_a_project_token_cannot_manage_tokens(cli: Cli) -> None:
    result = cli("admin", "tokens")
    assert result.returncode == 1
    assert "forbidden" in result.stderr
