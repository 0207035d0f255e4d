"""worker/sync.py: what the training thread logs reaches the database, on both databases alike."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from sqlalchemy import select

from api.db.models import EventType, JobEvent, Metric
from api.db.session import session_scope
from api.settings import Settings
from tests.service_doubles import tiny_spec
from worker.runner import run_job


@pytest.fixture(params=["postgresql", "sqlite"])
def database_url(request: pytest.FixtureRequest) -> str:
    return str(
        request.getfixturevalue("pg_shared_url" if request.param == "postgresql" else "sqlite_url")
    )


@pytest.mark.parametrize(
    "metric_name", ["m" * 201, "a\x00b", "clear\x1b[2J"], ids=["too long", "NUL", "escape"]
)
def test_a_metric_name_no_column_holds_is_dropped_and_said_once_in_the_job_log(
    settings: Settings,
    queue_job: Callable[..., str],
    metric_name: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """PostgreSQL refuses such a name (NUL, over VARCHAR(200)), SQLite would keep it: both drop
    it, the job's other metrics are stored, and no flush fails."""
    spec = tiny_spec(module="named_metric_regressor", module_params={"metric_name": metric_name})
    with caplog.at_level(logging.ERROR):
        assert run_job(queue_job(spec), settings) == "succeeded"
    assert not [r for r in caplog.records if "sync failed" in r.getMessage()]
    with session_scope(settings.database_url) as session:
        names = set(session.scalars(select(Metric.name)))
        lines = [
            e.data["line"]
            for e in session.scalars(select(JobEvent).where(JobEvent.type == EventType.log))
        ]
    assert "train_loss" in names and metric_name not in names
    refusals = [line for line in lines if "is not stored" in line]
    assert len(refusals) == 1, lines
    assert repr(metric_name[:80]) in refusals[0]
