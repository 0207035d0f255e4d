"""README.md cannot drift: every shell and Python block in it runs against a live embedded
service, and the lists it keeps (error codes, settings, files it names) match the code.

The blocks run in README order, as a reader at one terminal would run them: the shell blocks in
one bash session (`set -eo pipefail`; a variable a block sets, like $JOB, is there for the next),
each Python block as its own script, all in a scratch folder holding `examples/`. The service is
real (uvicorn + a Celery worker on SQLite and the filesystem broker, tests/e2e's `start_stack`);
TRAINYARD_URL and TRAINYARD_TOKEN point at it, and the service settings (DATABASE_URL, ...) are
set, so the server commands a block runs (`trainyard token create`) reach the same database.

A block that cannot run that way (it starts a service, needs a GPU, Docker or a placeholder) has
`<!-- norun: reason -->` on the line right before its opening fence.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from api.db import migrate
from api.db.session import get_engine
from api.settings import Settings
from tests.conftest import issue_token
from tests.e2e.conftest import Stack, make_settings, start_stack
from tests.helpers_services import REPO_ROOT, service_env
from trainyard.schemas.errors import ErrorCode

README = REPO_ROOT / "README.md"
RUNNABLE = {"bash": "shell", "sh": "shell", "shell": "shell", "python": "python"}
NORUN = re.compile(r"^<!--\s*norun:\s*(\S.*?)\s*-->$")
BLOCK_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class Block:
    line: int  # of the opening fence, 1-based
    kind: str  # "shell" or "python"
    code: str
    norun: str | None  # the reason, when marked


def readme_blocks(text: str) -> list[Block]:
    """The shell and Python blocks of `text`, with the norun reason of each marked one."""
    lines, blocks, i = text.splitlines(), [], 0
    while i < len(lines):
        fence = re.match(r"^```(\w+)\s*$", lines[i])
        if fence is None:
            i += 1
            continue
        end = next((j for j in range(i + 1, len(lines)) if lines[j].startswith("```")), None)
        assert end is not None, f"README.md line {i + 1}: the block is never closed"
        kind = RUNNABLE.get(fence[1])
        if kind is not None:
            marker = NORUN.match(lines[i - 1].strip()) if i else None
            code = "\n".join(lines[i + 1 : end]) + "\n"
            blocks.append(Block(i + 1, kind, code, marker[1] if marker else None))
        i = end + 1
    return blocks


@pytest.fixture(scope="module")
def readme_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("readme_stack")
    url = f"sqlite:///{root / 'trainyard.sqlite'}"
    migrate.upgrade(url)
    stack = start_stack(make_settings(url, "filesystem://", root), root)
    try:
        yield stack
    finally:
        stack.close()
        get_engine(url).dispose()


def reader_environment(stack: Stack) -> dict[str, str]:
    """What a reader has after `make run`: the service's settings, its URL and a token, and
    the virtual environment's commands on PATH."""
    token = issue_token(stack.settings.database_url, f"readme-{uuid.uuid4().hex[:8]}")
    env = service_env(stack.settings, TRAINYARD_URL=stack.url, TRAINYARD_TOKEN=token.token)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


class Terminal:
    """One bash session fed block after block; its output goes to a log file."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.cwd, self.log = cwd, cwd / "terminal.log"
        self.out = open(self.log, "wb")  # noqa: SIM115 - closed in close()
        self.bash = subprocess.Popen(
            ["bash", "--noprofile", "--norc"],
            stdin=subprocess.PIPE,
            stdout=self.out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=env,
            start_new_session=True,
        )

    def run(self, block: Block) -> None:
        script = self.cwd / f"block-{block.line}.sh"
        script.write_text(block.code)
        start = self.log.stat().st_size
        done = f"__README_BLOCK_{block.line}_DONE__"
        assert self.bash.stdin is not None
        self.bash.stdin.write(
            f"set -eo pipefail\nsource {script}\nset +eo pipefail\necho {done}\n".encode()
        )
        self.bash.stdin.flush()
        deadline = time.monotonic() + BLOCK_TIMEOUT_S
        while done not in self._since(start):
            if self.bash.poll() is not None:
                raise AssertionError(
                    f"README.md shell block at line {block.line} failed (exit "
                    f"{self.bash.returncode}):\n{block.code}\n--- output ---\n{self._since(start)}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"README.md shell block at line {block.line} still running after "
                    f"{BLOCK_TIMEOUT_S:.0f}s:\n{block.code}\n--- output ---\n{self._since(start)}"
                )
            time.sleep(0.1)

    def _since(self, offset: int) -> str:
        with open(self.log, "rb") as log:
            log.seek(offset)
            return log.read().decode(errors="replace")

    def close(self) -> None:
        if self.bash.poll() is None:
            self.bash.kill()
            self.bash.wait(10)
        self.out.close()


def run_python(block: Block, cwd: Path, env: dict[str, str]) -> None:
    script = cwd / f"block-{block.line}.py"
    script.write_text(block.code)
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=BLOCK_TIMEOUT_S,
    )
    assert result.returncode == 0, (
        f"README.md Python block at line {block.line} failed (exit {result.returncode}):\n"
        f"{block.code}\n--- output ---\n{result.stdout}\n{result.stderr}"
    )


def test_every_shell_and_python_block_runs_against_a_live_service(
    readme_stack: Stack, tmp_path: Path
) -> None:
    blocks = [b for b in readme_blocks(README.read_text()) if b.norun is None]
    assert len(blocks) >= 5, "the README lost its runnable examples"
    (tmp_path / "examples").symlink_to(REPO_ROOT / "examples")
    env = reader_environment(readme_stack)
    terminal = Terminal(tmp_path, env)
    try:
        for block in blocks:
            if block.kind == "shell":
                terminal.run(block)
            else:
                run_python(block, tmp_path, env)
    finally:
        terminal.close()
    assert readme_stack.worker.alive() and readme_stack.api.alive(), readme_stack.logs()


def test_blocks_left_out_say_why() -> None:
    text = README.read_text().splitlines()
    for number, line in enumerate(text, start=1):
        if "norun" in line:
            assert NORUN.match(line.strip()), (
                f"README.md line {number}: write <!-- norun: reason -->"
            )
            following = text[number] if number < len(text) else ""
            assert following.startswith("```"), (
                f"README.md line {number}: the norun marker must be right before a block's fence"
            )


def test_the_error_table_lists_every_error_code_with_its_status() -> None:
    section = README.read_text().split("### Errors", 1)[1].split("\n### ", 1)[0]
    rows = dict(re.findall(r"^\| `(\w+)` \| (\d{3}) \|", section, re.M))
    assert rows == {code.value: str(code.http_status) for code in ErrorCode}


def test_every_setting_is_documented() -> None:
    text = README.read_text()
    missing = [name.upper() for name in Settings.model_fields if f"`{name.upper()}`" not in text]
    assert missing == [], f"README.md does not document the settings {missing}"


def test_every_file_the_readme_names_exists() -> None:
    """Files by name (`*.md`, `*.py`, `*.yaml`...) and backticked paths into the repository
    (`docs/...`, `tests/...`): each exists. (A note once cited a FACTS.md nobody had.)"""
    text = README.read_text()
    files = set(
        re.findall(r"(?<![\w/$])([\w.-]+(?:/[\w.-]+)*\.(?:md|py|yaml|yml|toml|ini))\b", text)
    )
    top = {entry.name for entry in REPO_ROOT.iterdir()}
    paths = {p for p in re.findall(r"`([\w.-]+(?:/[\w.-]+)+/?)`", text) if p.split("/")[0] in top}
    readers_own = {"my_models.py", "tiny.yaml", "pyproject.toml"}  # files the reader writes
    missing = sorted(n for n in (files | paths) - readers_own if not (REPO_ROOT / n).exists())
    assert missing == [], f"README.md names files that do not exist: {missing}"
