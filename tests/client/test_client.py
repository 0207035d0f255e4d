"""trainyard.Client's typed results for the endpoints the CLI does not use."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from tests.client.conftest import Cli
from tests.conftest import issue_token
from tests.e2e.conftest import Stack
from trainyard import Client, TrainyardError


def test_metric_history_csv_export_and_dry_run(
    module_cli: Cli, submitted: dict[str, Any], tmp_path: Path
) -> None:
    with Client(module_cli.url, module_cli.token) as client:
        job_id = submitted["id"]
        history = client.metric_history(job_id, name="train_loss", max_points=5)
        (series,) = history.series
        assert series.name == "train_loss" and 0 < len(series.buckets) <= 5
        assert sum(b.count for b in series.buckets) == series.count
        raw = client.metrics(job_id, name="train_loss", limit=10_000).items
        assert series.count == len(raw)
        assert min(b.min for b in series.buckets) == pytest.approx(min(p.value for p in raw))

        size = client.export_metrics_csv(job_id, tmp_path / "m.csv", name="train_loss")
        rows = list(csv.DictReader((tmp_path / "m.csv").open()))
        assert size > 0 and [int(r["step"]) for r in rows] == [p.step for p in raw]

        resolved = client.validate(
            {"module": {"name": "autoencoder"}, "datamodule": {"name": "digits"}}
        )
        assert resolved.dry_run and resolved.spec["module"]["params"]["input_dim"] == 64
        assert client.checkpoint(job_id, "last").kind == "last"
        assert job_id in {j.id for j in client.iter_jobs(status=["succeeded"])}
        with pytest.raises(TrainyardError) as caught:
            client.validate({"module": {"name": "nope"}, "datamodule": {"name": "digits"}})
        assert (caught.value.status, caught.value.error_code) == (422, "unknown_component")


def test_admin_endpoints(client_stack: Stack) -> None:
    admin = issue_token(client_stack.settings.database_url, "cli-admin", is_admin=True)
    with Client(client_stack.url, admin.token) as client:
        project = client.create_project("client-made")
        assert project.name in {p.name for p in client.projects()}
        issued = client.create_token("client-made", name="bot")
        assert issued.token.startswith("ty_")
        with Client(client_stack.url, issued.token) as bot:
            assert bot.jobs().items == []  # a new project sees no jobs
            client.revoke_token(issued.id)
            with pytest.raises(TrainyardError) as caught:
                bot.jobs()
        assert caught.value.status == 401
        assert issued.id in {t.id for t in client.tokens("client-made")}
        assert client.health().status == "ok"
