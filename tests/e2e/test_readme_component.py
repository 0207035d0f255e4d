"""README "Your own components", step by step, exactly as written there.

The file from step 1 goes to a fresh folder as my_models.py; step 2's commands (the `trainyard`
console script, so the current folder is on the path only because the server commands put it
there) start the API and a worker from that folder; step 3's commands train the component and
predict with it. Before the file exists, step 2 refuses to start with one line naming it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.db.session import get_engine
from tests.conftest import issue_token
from tests.helpers_services import READY_TIMEOUT_S, REPO_ROOT, free_port
from tests.test_readme import README, Block, readme_blocks

SERVICE_VARS = ("DATABASE_URL", "BROKER_URL", "BROKER_FOLDER", "ARTIFACT_ROOT", "QUEUE_NAME")


def section_blocks() -> tuple[Block, Block, Block]:
    """(the module file, the start commands, the use commands) of the README section."""
    text = README.read_text()
    start = text.index("### Your own components")
    end = text.index("\n### ", start + 1)
    offset = text[:start].count("\n")
    blocks = [
        b for b in readme_blocks(text) if offset < b.line <= offset + text[start:end].count("\n")
    ]
    module = next(b for b in blocks if b.kind == "python")
    shell = [b for b in blocks if b.kind == "shell"]
    serve = next(b for b in shell if "trainyard serve" in b.code)
    use = next(b for b in shell if "trainyard predict" in b.code)
    return module, serve, use


@pytest.fixture
def folder(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    """The user's folder and environment: a migrated embedded home, a port, the venv's commands."""
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARS}
    env.update(
        TRAINYARD_HOME=str(tmp_path / "home"),
        TRAINYARD_PORT=str(free_port()),
        PATH=os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")]),
        PYTHONPATH=str(REPO_ROOT),  # this checkout, not another install
        OMP_NUM_THREADS="1",
    )
    env.pop("COMPONENT_MODULES", None)
    project = tmp_path / "project"
    project.mkdir()
    migrated = subprocess.run(
        [sys.executable, "-m", "trainyard", "migrate"], env=env, capture_output=True, text=True
    )
    assert migrated.returncode == 0, migrated.stderr
    yield project, env
    get_engine(f"sqlite:///{tmp_path / 'home' / 'trainyard.sqlite'}").dispose()


def start(block: Block, cwd: Path, env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """The block in bash, in the background; bash waits for the processes it started."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            ["bash", "-c", block.code + "wait\n"],
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def test_the_readme_steps_for_a_component_of_your_own(
    folder: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    project, env = folder
    module, serve, use = section_blocks()
    assert module.norun is None  # step 1 also runs in tests/test_readme.py

    # Without the file: both refuse to start, each with one line naming the module.
    refused = start(serve, project, env, tmp_path / "refused.log")
    assert refused.wait(120) == 0, (tmp_path / "refused.log").read_text()  # bash's own status
    said = (tmp_path / "refused.log").read_text()
    errors = [line for line in said.splitlines() if line.startswith("error:")]
    assert len(errors) == 2, said
    assert all("COMPONENT_MODULES: no module named 'my_models'" in e for e in errors), said
    assert "Traceback" not in said and " ready." not in said

    # Step 1, then step 2 again.
    (project / "my_models.py").write_text(module.code)
    log = tmp_path / "service.log"
    service = start(serve, project, env, log)
    url = f"http://127.0.0.1:{env['TRAINYARD_PORT']}"
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not (" ready." in log.read_text(errors="replace") and _healthy(url)):
            assert service.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.3)

        # Step 3, as written, with the URL and a token of this service.
        token = issue_token(f"sqlite:///{tmp_path / 'home' / 'trainyard.sqlite'}", "mine").token
        result = subprocess.run(
            ["bash", "-eo", "pipefail", "-c", use.code],
            cwd=project,
            env={**env, "TRAINYARD_URL": url, "TRAINYARD_TOKEN": token},
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        stop(service)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}\n{log.read_text()[-3000:]}"
    assert "tiny_mlp" in result.stdout and "hidden, lr" in result.stdout
    assert "succeeded" in result.stdout
    rows = result.stdout.strip().splitlines()[-2:]
    assert [row.split("\t")[0] for row in rows] == ["0", "1"], result.stdout
    assert all(len(row.split("\t")[1].split()) == 1 for row in rows)  # one number per sample
    float(rows[0].split("\t")[1])


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
