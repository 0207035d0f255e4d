"""Server commands run as a user runs them: an unusable database, a bad setting or a broken
COMPONENT_MODULES entry is one line on stderr and exit status 2, never a traceback, and `serve`
and `worker` refuse to start on them (a worker never reports ready)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from api.db.session import get_engine, session_scope
from api.db.tokens import authenticate
from tests.helpers_services import REPO_ROOT

SERVICE_VARS = ("DATABASE_URL", "BROKER_URL", "BROKER_FOLDER", "ARTIFACT_ROOT", "TRAINYARD_HOME")


def trainyard(
    cwd: Path, *args: str, timeout: float = 120, **env: str
) -> subprocess.CompletedProcess[str]:
    """`python -m trainyard ARGS` in `cwd`, with no service settings but `env`."""
    environ = {k: v for k, v in os.environ.items() if k not in SERVICE_VARS}
    environ.update(PYTHONPATH=str(REPO_ROOT), **env)
    return subprocess.run(
        [sys.executable, "-m", "trainyard", *args],
        cwd=cwd,
        env=environ,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def one_error_line(result: subprocess.CompletedProcess[str], status: int = 2) -> str:
    assert result.returncode == status, f"{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_the_embedded_database_is_found_from_any_folder(tmp_path: Path) -> None:
    home, elsewhere, other = tmp_path / "home", tmp_path / "a", tmp_path / "b" / "c"
    elsewhere.mkdir()
    other.mkdir(parents=True)
    missing = one_error_line(trainyard(elsewhere, "token", "create", TRAINYARD_HOME=str(home)))
    assert f"there is no database at {home / 'trainyard.sqlite'}" in missing
    assert "run `trainyard migrate`" in missing
    assert not home.exists()  # nothing half-created
    migrated = trainyard(elsewhere, "migrate", TRAINYARD_HOME=str(home))
    assert migrated.returncode == 0, migrated.stderr
    created = trainyard(other, "token", "create", "--project", "p", TRAINYARD_HOME=str(home))
    assert created.returncode == 0, created.stderr
    url = f"sqlite:///{home / 'trainyard.sqlite'}"
    with session_scope(url) as session:
        assert authenticate(session, created.stdout.strip()) is not None
    get_engine(url).dispose()


def test_without_trainyard_home_every_folder_shares_one_default(tmp_path: Path) -> None:
    show = (
        "from api.settings import Settings; s = Settings(); print(s.database_url, s.artifact_root)"
    )
    answers = set()
    for folder in (tmp_path, Path("/")):
        environ = {k: v for k, v in os.environ.items() if k not in SERVICE_VARS}
        environ["PYTHONPATH"] = str(REPO_ROOT)
        result = subprocess.run(
            [sys.executable, "-c", show], cwd=folder, env=environ, capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr
        answers.add(result.stdout.strip())
    assert answers == {
        f"sqlite:///{REPO_ROOT / 'var' / 'trainyard.sqlite'} {REPO_ROOT / 'var' / 'artifacts'}"
    }


def test_an_installed_copy_keeps_its_data_in_the_users_data_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import api.settings

    monkeypatch.setattr(api.settings, "_SOURCE_ROOT", tmp_path / "site-packages")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert api.settings.default_home() == tmp_path / "data" / "trainyard"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert api.settings.default_home() == Path.home() / ".local" / "share" / "trainyard"


UNREACHABLE = "postgresql+psycopg://postgres:secret@127.0.0.1:1/nothing"


@pytest.mark.parametrize(
    "command", [["token", "create"], ["serve"], ["worker"], ["demo"]], ids=" ".join
)
def test_an_unreachable_database_is_one_sentence(tmp_path: Path, command: list[str]) -> None:
    result = trainyard(tmp_path, *command, DATABASE_URL=UNREACHABLE)
    line = one_error_line(result)
    assert line.startswith(f"error: `trainyard {' '.join(command)}`")
    assert "the database postgresql+psycopg://postgres:***@127.0.0.1:1/nothing" in line
    assert "secret" not in result.stdout + result.stderr


def test_check_and_migrate_say_the_same_sentence(tmp_path: Path) -> None:
    check = trainyard(tmp_path, "check", "--timeout=1", DATABASE_URL=UNREACHABLE)
    assert one_error_line(check, status=1).startswith("unhealthy: cannot use the database")
    migrate = trainyard(tmp_path, "migrate", DATABASE_URL=UNREACHABLE)
    assert "cannot use the database postgresql+psycopg://postgres:***@" in one_error_line(migrate)


def test_a_database_never_migrated_says_run_migrate(tmp_path: Path) -> None:
    (tmp_path / "empty.sqlite").write_bytes(b"")
    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    for command in (["token", "create"], ["serve"]):
        line = one_error_line(trainyard(tmp_path, *command, DATABASE_URL=url))
        assert "has no tables yet: run `trainyard migrate` first" in line


def test_a_bad_setting_is_one_sentence_naming_it(tmp_path: Path) -> None:
    line = one_error_line(trainyard(tmp_path, "token", "create", HEARTBEAT_INTERVAL_S="-1"))
    assert line.startswith("error: `trainyard token create`: invalid setting HEARTBEAT_INTERVAL_S")


@pytest.fixture
def migrated(tmp_path: Path) -> dict[str, str]:
    """The environment of an embedded service in tmp_path/home, migrated."""
    env = {"TRAINYARD_HOME": str(tmp_path / "home")}
    assert trainyard(tmp_path, "migrate", **env).returncode == 0
    return env


BROKEN = {
    "missing": ("", "no module named 'my_models' (looked in the current folder"),
    "raises": ("import math\nmath.floor(1 / 0)\n", "ZeroDivisionError: division by zero"),
    "syntax": ("def broken(:\n", "SyntaxError"),
    "imports a missing package": ("import not_installed_anywhere\n", "ModuleNotFoundError"),
}


@pytest.mark.parametrize("source", BROKEN.values(), ids=BROKEN.keys())
@pytest.mark.parametrize("command", ["serve", "worker"])
def test_a_broken_component_module_stops_serve_and_worker_with_one_line(
    tmp_path: Path, migrated: dict[str, str], command: str, source: tuple[str, str]
) -> None:
    code, expected = source
    if code:
        (tmp_path / "my_models.py").write_text(code)
    result = trainyard(tmp_path, command, COMPONENT_MODULES='["my_models"]', **migrated)
    line = one_error_line(result)
    assert line.startswith(f"error: `trainyard {command}` cannot start: COMPONENT_MODULES:")
    assert expected in line
    if code:
        assert "my_models.py" in line  # where to look
    assert " ready." not in result.stdout + result.stderr
