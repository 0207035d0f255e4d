"""Strings from the server cannot drive the terminal of whoever runs the CLI.

A job name stored before names were checked, a job that prints escape sequences, rich markup
in a name: every command shows them as visible text (`\\x1b[2J`, `[red]`), on a pipe and on a
pseudo-terminal, and never sends them to the terminal.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import update

from api.db.models import Checkpoint, Job
from api.db.session import session_scope
from tests.client.conftest import Cli, ok
from tests.client.test_terminal import ANSI, on_terminal
from tests.e2e.conftest import Stack
from tests.service_doubles import tiny_spec

# Retitle the terminal, clear the screen, ring the bell; and rich markup.
RAW = "\x1b]0;pwned\x07[red]r\x1b[2J"
SHOWN = "\\x1b]0;pwned\\x07[red]r\\x1b[2J"
SEQUENCES = ("\x1b]0;", "\x1b[2J", "\x07")


@pytest.fixture(scope="module")
def hostile_job(
    module_cli: Cli, client_stack: Stack, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """A finished job whose output lines and (stored) name carry escape sequences."""
    folder = tmp_path_factory.mktemp("hostile")
    spec = tiny_spec(module_params={"say": RAW}, max_epochs=1, name="hostile")
    (folder / "spec.json").write_text(json.dumps(spec))
    cli = Cli(module_cli.url, module_cli.token, folder)
    watched = ok(cli("submit", "spec.json", "--watch", "--logs"))
    _assert_inert(watched)
    assert f"[stdout] {SHOWN}" in watched  # the live view shows the line, escaped
    job_id = watched.split("submitted job ", 1)[1].split()[0]
    # The API refuses such a name now (a 422); a row written before that still holds one.
    with session_scope(client_stack.settings.database_url) as session:
        session.execute(update(Job).where(Job.id == job_id).values(name=RAW))
    return job_id


def _assert_inert(output: str) -> None:
    for sequence in SEQUENCES:
        assert sequence not in output, f"{sequence!r} reached the terminal:\n{output!r}"


@pytest.mark.parametrize(
    "command",
    [["jobs"], ["status", "{job}"], ["logs", "{job}"], ["watch", "{job}"], ["jobs", "--json"]],
    ids=" ".join,
)
def test_commands_show_escape_sequences_as_text_on_a_pipe(
    cli: Cli, hostile_job: str, command: list[str]
) -> None:
    out = ok(cli(*(arg.format(job=hostile_job) for arg in command)))
    _assert_inert(out)
    if "--json" in command:
        assert RAW in [job["name"] for job in json.loads(out)]  # JSON escapes, values intact
    else:
        assert SHOWN in out


@pytest.mark.parametrize(
    "command", [["jobs"], ["status", "{job}"], ["logs", "{job}"], ["watch", "{job}"]], ids=" ".join
)
def test_commands_show_escape_sequences_and_markup_as_text_on_a_terminal(
    cli: Cli, hostile_job: str, command: list[str]
) -> None:
    status, shown = on_terminal(cli, *(arg.format(job=hostile_job) for arg in command))
    assert status == 0, shown
    _assert_inert(shown)
    text = ANSI.sub("", shown)  # rich's own colours and cursor moves are fine
    if command == ["jobs"]:  # a table cell may be cut short with "…"
        assert SHOWN[:12] in text, text
    else:
        assert SHOWN in text, text  # "[red]" printed, not taken as markup


def test_an_error_detail_from_the_server_is_shown_as_text(cli: Cli) -> None:
    """Error details are printed as the server wrote them; a server (or a proxy in front of
    it) that puts escape sequences there cannot reach the terminal either."""

    class Hostile(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            body = json.dumps({"error_code": "validation_error", "detail": RAW}).encode()
            self.send_response(422)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        result = cli("jobs", "--url", f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        thread.join(10)
    assert result.returncode == 1
    _assert_inert(result.stderr)
    assert f"error: validation_error (HTTP 422): {SHOWN}" in result.stderr


def test_a_download_name_from_the_server_stays_in_the_current_folder(
    cli: Cli, hostile_job: str, client_stack: Stack, tmp_path: Path
) -> None:
    """The default file name is built from the checkpoint's `kind`; a `kind` holding a path
    (a row written by something else than this server) still names a file here."""
    with session_scope(client_stack.settings.database_url) as session:
        session.execute(
            update(Checkpoint).where(Checkpoint.job_id == hostile_job).values(kind="../../up")
        )
    (tmp_path / "inside").mkdir()
    result = Cli(cli.url, cli.token, tmp_path / "inside")("download", hostile_job)
    assert result.returncode == 0, result.stderr
    saved = list((tmp_path / "inside").glob("*.ckpt"))
    assert len(saved) == 1 and saved[0].name.startswith(f"{hostile_job}-.._.._up-step")
    assert not list(tmp_path.glob("*.ckpt")) and not list(tmp_path.parent.glob("*.ckpt"))
