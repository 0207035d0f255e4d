"""Shared by the stream and metric-history benches: a real stack, machine facts, a table.

The stack is what production runs: PostgreSQL (a fresh database on TRAINYARD_TEST_PG_URL's
server), Redis (TRAINYARD_BENCH_REDIS_URL, default db 7) for announcements, `trainyard serve`
as a subprocess and, when asked, `trainyard worker`.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from api.db import migrate  # noqa: E402
from api.settings import Settings  # noqa: E402
from tests.conftest import create_pg_database, drop_pg_database, issue_token  # noqa: E402
from tests.helpers_services import (  # noqa: E402
    ServiceProcess,
    launch_api,
    launch_worker,
    service_env,
    unique_queue,
)

REDIS_URL = os.environ.get("TRAINYARD_BENCH_REDIS_URL", "redis://127.0.0.1:6379/7")


@dataclass
class Stack:
    settings: Settings
    api: ServiceProcess
    token: str
    project_id: str
    worker: ServiceProcess | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@contextmanager
def stack(*, worker: bool = False, component_modules: list[str] | None = None) -> Iterator[Stack]:
    """A migrated PostgreSQL database, Redis, the API (and a worker), torn down afterwards."""
    url = create_pg_database(prefix="bench_")
    root = Path(tempfile.mkdtemp(prefix="trainyard-bench-"))
    procs: list[ServiceProcess] = []
    try:
        migrate.upgrade(url)
        settings = Settings(
            database_url=url,
            broker_url=REDIS_URL,
            redis_url=REDIS_URL,
            queue_name=unique_queue(),
            artifact_root=str(root / "artifacts"),
            broker_folder=root / "broker",
            component_modules=component_modules or [],
        )
        env = service_env(settings)
        env["PYTHONPATH"] = f"{REPO}{os.pathsep}{env.get('PYTHONPATH', '')}"
        procs.append(launch_api(env, root / "logs"))
        if worker:
            procs.append(launch_worker(env, root / "logs"))
        token = issue_token(url, f"bench-{uuid.uuid4().hex[:6]}")
        yield Stack(
            settings, procs[0], token.token, token.project_id, procs[1] if worker else None,
            {"env": env, "root": root},
        )  # fmt: skip
    finally:
        for proc in reversed(procs):
            proc.terminate(timeout=10)
        drop_pg_database(url)


# ---------------------------------------------------------------- process and machine facts


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int, peak: bool = False) -> float:
    """Resident memory of a process (VmHWM, its peak so far, when `peak`), in MiB."""
    key = "VmHWM:" if peak else "VmRSS:"
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key):
            return int(line.split()[1]) / 1024
    return float("nan")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _server_version(command: list[str], prefix: str = "") -> str:
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return "?"
    lines = [line.strip() for line in out.splitlines() if line.strip().startswith(prefix)]
    return lines[0].removeprefix(prefix) if lines else "?"


def machine() -> str:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    pg = _server_version(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-tAc",
                          "SHOW server_version"])  # fmt: skip
    redis = _server_version(["redis-cli", "-h", "127.0.0.1", "INFO", "server"], "redis_version:")
    return (
        f"{_cpu_model()}, {os.cpu_count()} cores, {memory:.0f} GiB RAM, load avg {load}; "
        f"Python {platform.python_version()}, PostgreSQL {pg}, Redis {redis}"
    )


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(p) - 1]


def print_table(title: str, rows: list[tuple[str, str]]) -> None:
    width = max(len(name) for name, _ in rows)
    print(f"\n{title}\n" + "-" * len(title))
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")
    print(f"\nmachine: {machine()}")
