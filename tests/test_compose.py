"""docker-compose.yml and the Dockerfile start things the way this project can run them."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from trainyard.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, Any] = COMPOSE["services"]
TRAINYARD_SERVICES = ("migrate", "api", "worker")


def entrypoint() -> list[str]:
    match = re.search(r"^ENTRYPOINT (\[.*\])$", (ROOT / "Dockerfile").read_text(), re.M)
    assert match, "the Dockerfile has no exec-form ENTRYPOINT"
    return list(yaml.safe_load(match.group(1)))


def test_the_production_services_are_all_there() -> None:
    assert set(SERVICES) >= {"postgres", "redis", *TRAINYARD_SERVICES}
    assert entrypoint() == ["trainyard"]


@pytest.mark.parametrize("service", TRAINYARD_SERVICES)
def test_each_command_is_a_valid_trainyard_invocation(service: str) -> None:
    command = SERVICES[service]["command"]
    args = build_parser().parse_args(command)  # exits (fails the test) on an unknown subcommand
    assert callable(args.func)


def test_migrate_runs_the_alembic_upgrade() -> None:
    assert SERVICES["migrate"]["command"][0] == "migrate"
    assert SERVICES["migrate"].get("restart") == "no"
    for service in ("api", "worker"):
        condition = SERVICES[service]["depends_on"]["migrate"]["condition"]
        assert condition == "service_completed_successfully"


def test_api_and_workers_share_the_artifact_volume_and_settings() -> None:
    mounts = {s: SERVICES[s]["volumes"] for s in ("api", "worker")}
    assert mounts["api"] == mounts["worker"]
    target = mounts["api"][0].split(":")[1]
    for service in TRAINYARD_SERVICES:
        env = SERVICES[service]["environment"]
        assert env["DATABASE_URL"].startswith("postgresql")
        assert env["BROKER_URL"].startswith("redis://redis:")
        assert env["ARTIFACT_ROOT"] == target


def test_health_checks_and_gpu_reservation() -> None:
    for service in ("postgres", "redis", "api", "worker"):
        assert SERVICES[service]["healthcheck"]["test"], service
    worker_check = SERVICES["worker"]["healthcheck"]["test"]
    assert build_parser().parse_args(worker_check[2:]).func.__name__ == "check"
    devices = SERVICES["worker"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["capabilities"] == ["gpu"]


def test_dockerfile_copies_every_package_the_image_runs() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    # Every package the distribution ships (pyproject's find include list) is in the image.
    include = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages = [pattern.rstrip("*") for pattern in include["packages"]["find"]["include"]]
    assert {"api", "worker", "server", "catalog", "trainer_core", "trainyard"} <= set(packages)
    for package in packages:
        assert f"COPY {package} ./{package}" in dockerfile
        assert (ROOT / package / "__init__.py").exists()
    # The image runs the service, so it installs the server extra.
    assert 'pip install ".[server]"' in dockerfile
