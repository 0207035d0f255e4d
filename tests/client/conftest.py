"""CLI tests: the real `trainyard` command, as a subprocess, against a real server.

- `client_stack` (package): the embedded default (`make run`'s SQLite + filesystem broker) with a
  real uvicorn API and a real Celery worker (tests/e2e's `start_stack`).
- `cli`: `cli(*args, token=..., timeout=...)` runs `python -m trainyard ARGS` with TRAINYARD_URL
  and TRAINYARD_TOKEN set for a fresh project of the stack; returns the CompletedProcess.
- `submitted` (package): examples/autoencoder.yaml submitted once with `--watch` (id, output).
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from api.db import migrate
from api.db.session import get_engine
from tests.conftest import issue_token
from tests.e2e.conftest import Stack, make_settings, start_stack
from tests.helpers_services import REPO_ROOT


@pytest.fixture(scope="package")
def client_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("client_stack")
    url = f"sqlite:///{root / 'trainyard.sqlite'}"
    migrate.upgrade(url)
    stack = start_stack(make_settings(url, "filesystem://", root), root)
    try:
        yield stack
    finally:
        stack.close()
        get_engine(url).dispose()


@dataclass
class Cli:
    url: str
    token: str
    cwd: Path

    def __call__(
        self, *args: str, token: str | None = None, timeout: float = 120, **env: str
    ) -> subprocess.CompletedProcess[str]:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("TRAINYARD_")}
        environ.update(
            TRAINYARD_URL=self.url,
            TRAINYARD_TOKEN=self.token if token is None else token,
            PYTHONPATH=str(REPO_ROOT),
            **env,
        )
        return subprocess.run(
            [sys.executable, "-m", "trainyard", *args],
            cwd=self.cwd,
            env=environ,
            capture_output=True,
            text=True,
            timeout=timeout,
        )


@pytest.fixture(scope="package")
def module_cli(client_stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Cli:
    token = issue_token(client_stack.settings.database_url, f"cli-{uuid.uuid4().hex[:8]}")
    return Cli(client_stack.url, token.token, tmp_path_factory.mktemp("cli_cwd"))


@pytest.fixture
def cli(module_cli: Cli, tmp_path: Path) -> Cli:
    return Cli(module_cli.url, module_cli.token, tmp_path)


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="package")
def submitted(module_cli: Cli, client_stack: Stack) -> dict[str, Any]:
    """examples/autoencoder.yaml through `trainyard submit --watch` (the issue's promise)."""
    result = module_cli("submit", str(REPO_ROOT / "examples" / "autoencoder.yaml"), "--watch")
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}\n{client_stack.logs()}"
    job_id = result.stdout.split("submitted job ", 1)[1].split()[0]
    return {"id": job_id, "stdout": result.stdout}
