"""On a terminal the CLI draws with rich: the live watch line, tables, the download bar.

Each command runs on a pseudo-terminal (so `isatty()` is true, as for a user at a shell)
against the real server; the test reads everything the command wrote until it closes the
terminal.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

from tests.client.conftest import Cli
from tests.helpers_services import REPO_ROOT

HIDE_CURSOR, SHOW_CURSOR = "\x1b[?25l", "\x1b[?25h"  # what rich's Live writes around its line
BAR = "━"  # rich's progress bar
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def on_terminal(cli: Cli, *args: str, timeout: float = 120) -> tuple[int, str]:
    """Run `trainyard ARGS` with stdout and stderr on a 120x40 pseudo-terminal."""
    terminal_vars = (
        "COLUMNS",
        "LINES",
        "NO_COLOR",
        "FORCE_COLOR",
        "TTY_COMPATIBLE",
        "TTY_INTERACTIVE",
    )
    env = {k: v for k, v in os.environ.items() if k not in terminal_vars}
    env.update(
        TRAINYARD_URL=cli.url, TRAINYARD_TOKEN=cli.token, PYTHONPATH=str(REPO_ROOT), TERM="xterm"
    )
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "trainyard", *args],
        stdin=subprocess.DEVNULL, stdout=follower, stderr=follower, cwd=cli.cwd, env=env,
    )  # fmt: skip
    os.close(follower)
    written = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            ready, _, _ = select.select([leader], [], [], max(deadline - time.monotonic(), 0))
            assert ready, f"trainyard {' '.join(args)} still running after {timeout}s"
            try:
                chunk = os.read(leader, 1 << 16)
            except OSError:  # EIO: the command exited and the terminal has no writer left
                break
            if not chunk:
                break
            written.append(chunk)
    finally:
        os.close(leader)
        if process.poll() is None:
            process.kill()
    return process.wait(timeout=10), b"".join(written).decode(errors="replace")


def test_watch_draws_a_live_line_then_the_summary(cli: Cli, tmp_path: Path) -> None:
    from tests.service_doubles import tiny_spec

    (tmp_path / "spec.json").write_text(json.dumps(tiny_spec(max_epochs=2)))
    status, shown = on_terminal(cli, "submit", "spec.json", "--watch")
    assert status == 0, shown
    assert HIDE_CURSOR in shown and SHOW_CURSOR in shown, "no live display"
    assert BAR in shown
    text = ANSI.sub("", shown)
    job_id = text.split("submitted job ", 1)[1].split()[0]
    assert "status: running" in text and f"job {job_id} succeeded" in text
    final = re.search(r"succeeded\s+epoch 1\s+\S*\s+100% step (\d+)/(\d+)", text)
    assert final and final[1] == final[2], text


def test_tables_and_the_download_bar(cli: Cli, submitted: dict[str, str]) -> None:
    status, shown = on_terminal(cli, "jobs")
    assert status == 0, shown
    text = ANSI.sub("", shown)
    assert re.search(r"ID\s+NAME\s+STATUS", text) and "─" in text  # rich's header rule
    assert re.search(rf"{submitted['id']}\s+autoencoder-digits\s+succeeded", text)

    status, shown = on_terminal(cli, "download", submitted["id"], "-o", "best.ckpt")
    assert status == 0, shown
    size = (cli.cwd / "best.ckpt").stat().st_size
    assert BAR in shown and "verified" in shown and f"({size} bytes" in shown
