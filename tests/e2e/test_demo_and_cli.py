"""`make run` (server.demo) and the server-side CLI, run as a user runs them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.db.session import get_engine, session_scope
from api.db.tokens import authenticate
from tests.e2e.conftest import TERMINAL
from tests.helpers_services import REPO_ROOT, free_port
from tests.service_doubles import tiny_spec


def clean_env(**extra: str) -> dict[str, str]:
    """The user's environment without any service settings (so the embedded defaults apply)."""
    names = ("DATABASE_URL", "BROKER_URL", "BROKER_FOLDER", "ARTIFACT_ROOT", "COMPONENT_MODULES",
             "TRAINYARD_HOME")  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k not in names}
    return {**env, "PYTHONPATH": str(REPO_ROOT), **extra}


def start_demo(home: Path, port: int, out: Path, **env: str) -> subprocess.Popen[bytes]:
    with open(out, "ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "server.demo"],
            cwd=home.parent,
            env=clean_env(TRAINYARD_PORT=str(port), TRAINYARD_HOME=str(home), **env),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )


def wait_for_text(out: Path, text: str, proc: subprocess.Popen[bytes], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = out.read_text(errors="replace")
        if text in seen:
            return seen
        assert proc.poll() is None, seen
        time.sleep(0.3)
    raise AssertionError(f"no {text!r} within {timeout:.0f}s:\n{out.read_text()}")


def test_make_run_trains_supervises_its_worker_and_restarts_on_the_same_port(
    tmp_path: Path,
) -> None:
    port, home, out = free_port(), tmp_path / "var", tmp_path / "demo.out"
    # The test components too, for a job slow enough to kill its worker under.
    demo = start_demo(home, port, out, COMPONENT_MODULES='["tests.service_doubles"]')
    api = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)  # stays open: TIME_WAIT
    try:
        text = wait_for_text(out, "Still serving", demo, 240)
        assert "succeeded" in text and "/download" in text and "mean squared error" in text
        token = next(line.split(": ")[1] for line in text.splitlines() if "Token (project" in line)
        dashboard = next(line.split()[1] for line in text.splitlines() if "Dashboard:" in line)
        assert dashboard == f"http://127.0.0.1:{port}/ui/"
        login = api.post("/ui/login", data={"token": token}, follow_redirects=False)
        assert login.status_code == 303 and login.headers["location"] == "/ui/"
        api.headers["Authorization"] = f"Bearer {token}"
        assert [job["status"] for job in api.get("/v1/jobs").json()["items"]] == ["succeeded"]
        assert (home / "trainyard.sqlite").exists()

        spec = tiny_spec(module_params={"sleep_s": 0.05}, max_epochs=10, train_size=320)
        spec["checkpoint"] = {"every_n_train_steps": 5}
        job_id = api.post("/v1/jobs", json=spec).raise_for_status().json()["id"]
        poll(lambda: api.get(f"/v1/jobs/{job_id}/checkpoints").json()["items"], 120)
        worker_pid = int(text.split("a worker (pid ", 1)[1].split(")")[0])
        os.kill(worker_pid, signal.SIGKILL)
        wait_for_text(out, "The worker exited (signal SIGKILL); started it again", demo, 30)
        job = poll(
            lambda: (j := api.get(f"/v1/jobs/{job_id}").json())["status"] in TERMINAL and j, 180
        )
        assert job["status"] == "succeeded", job
        assert job["attempt"] == 2 and job["attempts"][1]["resumed_from"] is not None
    finally:
        demo.send_signal(signal.SIGINT)  # what Ctrl-C does
        assert demo.wait(60) == 0, out.read_text()
    with pytest.raises(httpx.TransportError):
        api.get("/health", timeout=2)
    api.close()
    worker_log = (home / "logs" / "worker.log").read_text()
    assert "Warm shutdown" in worker_log
    # The resumed attempt wrote its events without colliding (it once logged an ERROR).
    assert "UNIQUE constraint failed" not in worker_log and "sync failed" not in worker_log

    # `make run` again at once: the same port, although the old API's connections linger.
    again = start_demo(home, port, tmp_path / "again.out")
    try:
        shown = wait_for_text(tmp_path / "again.out", "Trainyard is running at", again, 180)
        assert f"Trainyard is running at http://127.0.0.1:{port} " in shown
        assert httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200
    finally:
        again.send_signal(signal.SIGINT)
        assert again.wait(60) == 0, (tmp_path / "again.out").read_text()


def poll(check: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.3)
    raise AssertionError(f"timed out after {timeout:.0f}s")


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
