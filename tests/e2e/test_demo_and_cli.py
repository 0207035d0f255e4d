"""`make run` (server.demo) and the server-side CLI, run as a user runs them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from api.db.session import get_engine, session_scope
from api.db.tokens import authenticate
from tests.helpers_services import REPO_ROOT, free_port


def clean_env(**extra: str) -> dict[str, str]:
    """The user's environment without any service settings (so the embedded defaults apply)."""
    names = ("DATABASE_URL", "BROKER_URL", "BROKER_FOLDER", "ARTIFACT_ROOT", "COMPONENT_MODULES")
    env = {k: v for k, v in os.environ.items() if k not in names}
    return {**env, "PYTHONPATH": str(REPO_ROOT), **extra}


def test_make_run_trains_predicts_keeps_serving_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    out = tmp_path / "demo.out"
    with open(out, "wb") as sink:
        demo = subprocess.Popen(
            [sys.executable, "-m", "server.demo"],
            cwd=tmp_path,
            env=clean_env(TRAINYARD_PORT=str(port)),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 180
        while "Still serving" not in out.read_text() and time.monotonic() < deadline:
            assert demo.poll() is None, out.read_text()
            time.sleep(0.5)
        text = out.read_text()
        assert "Still serving" in text, text
        assert "succeeded" in text and "/download" in text and "mean squared error" in text
        token = next(line.split(": ")[1] for line in text.splitlines() if "Token (project" in line)
        headers = {"Authorization": f"Bearer {token}"}
        jobs = httpx.get(f"http://127.0.0.1:{port}/v1/jobs", headers=headers).json()["items"]
        assert [job["status"] for job in jobs] == ["succeeded"]
        assert (tmp_path / "var" / "trainyard.sqlite").exists()
    finally:
        demo.send_signal(signal.SIGINT)  # what Ctrl-C does
        assert demo.wait(60) == 0, out.read_text()
    try:
        httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
        raise AssertionError("the API still answers after Ctrl-C")
    except httpx.ConnectError:
        pass
    assert "Warm shutdown" in (tmp_path / "var" / "logs" / "worker.log").read_text()


def test_migrate_then_token_create_prints_a_working_token(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    env = clean_env(DATABASE_URL=url)
    run = [sys.executable, "-m", "trainyard"]
    migrated = subprocess.run([*run, "migrate"], env=env, capture_output=True, text=True)
    assert migrated.returncode == 0, migrated.stderr
    created = subprocess.run(
        [*run, "token", "create", "--project", "team-a", "--admin", "--name", "ci"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    with session_scope(url) as session:
        row = authenticate(session, token)
        assert row is not None and row.is_admin and row.name == "ci"
    get_engine(url).dispose()


def test_cli_rejects_an_unknown_subcommand() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "trainyard", "serv"], env=clean_env(), capture_output=True, text=True
    )
    assert result.returncode == 2 and "invalid choice: 'serv'" in result.stderr
