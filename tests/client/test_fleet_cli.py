"""`trainyard queue`, `trainyard admin workers`, `trainyard admin quota`, and the queue in
`trainyard status` / `trainyard jobs`: the real command against the embedded stack, whose one
worker (the defaults: no GPU, one CPU slot) registered itself."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from tests.client.conftest import Cli, ok
from tests.conftest import issue_token
from tests.e2e.conftest import Stack

NEEDS_8_GPUS = {
    "module": {"name": "autoencoder"},
    "datamodule": {"name": "digits"},
    "resources": {"gpus": 8},
    "priority": 4,
}


def test_admin_workers_shows_the_embedded_worker_and_its_cpu_slot(
    cli: Cli, client_stack: Stack
) -> None:
    admin = issue_token(client_stack.settings.database_url, "ops", is_admin=True).token
    listed = json.loads(ok(cli("admin", "workers", "--json", token=admin)))
    online = [w for w in listed if w["status"] == "online"]
    assert len(online) == 1
    assert (online[0]["gpus"], online[0]["cpu_slots"], online[0]["pool"]) == ([], 1, "default")
    table = ok(cli("admin", "workers", token=admin))
    assert online[0]["id"] in table and "online" in table
    assert "forbidden" in cli("admin", "workers").stderr


def test_a_job_no_worker_can_run_says_why_in_queue_status_and_jobs(
    cli: Cli, client_stack: Stack, tmp_path: Path
) -> None:
    spec = tmp_path / "big.json"
    spec.write_text(json.dumps(NEEDS_8_GPUS))
    dry = json.loads(ok(cli("submit", str(spec), "--dry-run")))
    assert dry["warnings"][0].startswith("no_worker_fits")
    job_id = ok(cli("submit", str(spec))).split("submitted job ", 1)[1].split()[0]
    try:
        status = ok(cli("status", job_id))
        assert "queue     #1 (0 ahead): no_worker_fits" in status and "priority 4" in status
        assert "no_worker_fits" in ok(cli("queue"))
        assert "no_worker_fits" in ok(cli("jobs", "--status", "queued"))
    finally:
        ok(cli("cancel", job_id))


def test_admin_quota_sets_and_clears_limits(cli: Cli, client_stack: Stack) -> None:
    url = client_stack.settings.database_url
    project = issue_token(url, f"quota-{uuid.uuid4().hex[:6]}")
    admin = issue_token(url, "ops", is_admin=True).token
    out = ok(cli("admin", "quota", project.project_id, "--max-gpus", "8", "--max-priority", "5",
                 token=admin))  # fmt: skip
    assert "max_gpus=8" in out and "max_running_jobs=None" in out and "max_priority=5" in out
    out = ok(cli("admin", "quota", project.project_id, "--max-gpus", "none", token=admin))
    assert "max_gpus=None" in out and "max_priority=5" in out
    bad = cli("admin", "quota", project.project_id, "--max-gpus", "lots", token=admin)
    assert bad.returncode == 2 and "'lots': give a whole number" in bad.stderr
    assert cli("admin", "quota", project.project_id, token=admin).returncode == 2
