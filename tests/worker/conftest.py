"""Fixtures of the worker tests: settings that know the test components, and queued job rows."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from api.db import jobs
from api.db.session import session_scope
from api.db.tokens import get_or_create_project
from api.settings import Settings
from tests.helpers_services import unique_queue
from tests.service_doubles import COMPONENT_MODULE


def worker_settings(database_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "artifact_root": str(tmp_path / "artifacts"),
        "broker_url": "filesystem://",
        "broker_folder": tmp_path / "broker",
        "queue_name": unique_queue(),
        "redis_url": None,
        "component_modules": [COMPONENT_MODULE],
        "heartbeat_interval_s": 0.5,
    }
    values.update(overrides)
    return Settings(**values)


def insert_job(database_url: str, spec: dict[str, Any], project: str = "p") -> str:
    """A queued job row, as the API leaves it after POST /v1/jobs."""
    with session_scope(database_url) as session:
        project_row = get_or_create_project(session, project)
        return jobs.insert_job(session, project_id=project_row.id, spec=spec, tags=[]).id


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return worker_settings(database_url, tmp_path)


@pytest.fixture
def queue_job(settings: Settings) -> Callable[..., str]:
    def queue(spec: dict[str, Any]) -> str:
        return insert_job(settings.database_url, spec)

    return queue
