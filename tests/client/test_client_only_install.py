"""`pip install trainyard` (no extras) in a fresh virtual environment: the client and the CLI
work against a running server, and nothing of the server comes along.

The venv is built once per test session (about 15-30 s: venv + pip install of the client's
dependencies from the package index) from a copy of the source tree, so the build writes no
`build/` or egg-info into the working tree.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tomllib
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.client.conftest import ok
from tests.conftest import issue_token
from tests.e2e.conftest import Stack
from tests.helpers_services import REPO_ROOT

SERVER_PACKAGES = ("torch", "celery", "sqlalchemy", "fastapi", "uvicorn", "alembic")
SPEC = REPO_ROOT / "examples" / "autoencoder.yaml"


def copy_source(destination: Path) -> None:
    """What a source distribution holds: pyproject, README, and the packages it lists."""
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    packages = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO_ROOT / name, destination / name)
    for pattern in packages:
        package = pattern.rstrip("*")
        shutil.copytree(
            REPO_ROOT / package, destination / package, ignore=shutil.ignore_patterns("__pycache__")
        )


@pytest.fixture(scope="session")
def client_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("client_venv")
    source = root / "source"
    source.mkdir()
    copy_source(source)
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    installed = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
         "--disable-pip-version-check", str(source)],
        capture_output=True, text=True, timeout=600, env=outside_env(),
    )  # fmt: skip
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return venv


def outside_env(**extra: str) -> dict[str, str]:
    """The environment of a user's shell: nothing pointing into this checkout or its venv."""
    drop = {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}
    env = {k: v for k, v in os.environ.items() if k not in drop and not k.startswith("TRAINYARD_")}
    return {**env, **extra}


def run_in(
    venv: Path, program: str, *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv / "bin" / program), *args],
        cwd=cwd,
        env=outside_env(**(env or {})),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def user(client_stack: Stack) -> dict[str, str]:
    """TRAINYARD_URL and TRAINYARD_TOKEN of a fresh project on the running server."""
    token = issue_token(client_stack.settings.database_url, f"venv-{uuid.uuid4().hex[:8]}")
    return {"TRAINYARD_URL": client_stack.url, "TRAINYARD_TOKEN": token.token}


def test_the_client_install_brings_no_server_package(client_venv: Path, tmp_path: Path) -> None:
    probe = (
        "import importlib.util, json, trainyard;"
        f"print(json.dumps([trainyard.__file__, [m for m in {SERVER_PACKAGES!r}"
        " if importlib.util.find_spec(m)]]))"
    )
    where, found = json.loads(ok(run_in(client_venv, "python", "-c", probe, cwd=tmp_path)))
    assert found == [], f"the client install brought server packages: {found}"
    assert Path(where).is_relative_to(client_venv), f"trainyard was imported from {where}"


def test_help_lists_every_command(client_venv: Path, tmp_path: Path) -> None:
    helped = ok(run_in(client_venv, "trainyard", "--help", cwd=tmp_path))
    for command in ("submit", "watch", "download", "admin", "serve", "worker", "migrate"):
        assert command in helped


@pytest.mark.parametrize("command", [["serve"], ["worker"], ["migrate"]])
def test_server_commands_say_what_to_install(
    client_venv: Path, tmp_path: Path, command: list[str]
) -> None:
    result = run_in(client_venv, "trainyard", *command, cwd=tmp_path)
    assert result.returncode != 0
    assert 'pip install "trainyard[server]"' in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_the_cli_submits_watches_and_downloads(
    client_venv: Path, user: dict[str, str], tmp_path: Path
) -> None:
    def trainyard(*args: str) -> str:
        return ok(run_in(client_venv, "trainyard", *args, cwd=tmp_path, env=user))

    watched = trainyard("submit", str(SPEC), "--watch")
    job_id = watched.split("submitted job ", 1)[1].split()[0]
    assert "status: running" in watched and f"job {job_id} succeeded" in watched

    best = json.loads(trainyard("status", job_id, "--json"))["best_checkpoint"]
    assert best["sha256"] in trainyard("download", job_id, "-o", "best.ckpt")
    assert hashlib.sha256((tmp_path / "best.ckpt").read_bytes()).hexdigest() == best["sha256"]


# Runs inside the client venv: submit, follow the event stream to its end, download the best
# checkpoint; then report which top-level packages all that loaded.
CLIENT_SCRIPT = """
import json, sys, yaml
from trainyard import Client
url, token, spec_path, out = sys.argv[1:]
with Client(url, token) as client:
    job = client.submit(yaml.safe_load(open(spec_path)))
    events = [(e.id, e.type) for e in client.stream_events(job.id)]
    done = client.download_checkpoint(job.id, out)
    final = client.job(job.id)
print(json.dumps({
    "events": events, "status": final.status, "sha256": done.sha256,
    "expected": final.best_checkpoint.sha256,
    "modules": sorted({name.split(".")[0] for name in sys.modules}),
}))
"""


def test_the_python_client_submits_streams_and_downloads(
    client_venv: Path, user: dict[str, str], tmp_path: Path
) -> None:
    args = [user["TRAINYARD_URL"], user["TRAINYARD_TOKEN"], str(SPEC), "best.ckpt"]
    result: dict[str, Any] = json.loads(
        ok(run_in(client_venv, "python", "-c", CLIENT_SCRIPT, *args, cwd=tmp_path))
    )
    ids, types = zip(*result["events"], strict=True)
    assert list(ids) == sorted(set(ids)), "events out of order or repeated"
    assert types[-1] == "end" and {"status", "metric", "checkpoint"} <= set(types)
    assert result["status"] == "succeeded"
    assert result["sha256"] == result["expected"]
    assert hashlib.sha256((tmp_path / "best.ckpt").read_bytes()).hexdigest() == result["sha256"]
    loaded = set(result["modules"]) & {*SERVER_PACKAGES, "api", "worker", "catalog", "server"}
    assert not loaded, f"the client loaded server packages: {loaded}"
