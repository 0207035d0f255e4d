"""The fleet with real processes: the API (its scheduler), `trainyard worker` processes with
simulated inventories (`--gpus 0,1` on this GPU-less machine), PostgreSQL and Redis.

Each test starts the workers it needs (a fresh set per test) on one shared stack; the API's
recovery loop reaps within seconds (heartbeat timeout 3 s).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from tests.conftest import create_pg_database, drop_pg_database, issue_token
from tests.faults.conftest import FaultStack, fault_settings, start_stack, submit, wait_job
from tests.helpers_services import (
    READY_TIMEOUT_S,
    REDIS_URL,
    ServiceProcess,
    _spawn,
    wait_until,
)
from tests.service_doubles import tiny_spec


@pytest.fixture(scope="module")
def fleet(pg_template: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultStack]:
    url = create_pg_database(template=pg_template, prefix="t_fleet_")
    root = tmp_path_factory.mktemp("fleet")
    stack = start_stack(fault_settings(url, REDIS_URL, root), root)
    try:
        yield stack
    finally:
        stack.close()
        drop_pg_database(url)


@pytest.fixture
def workers(fleet: FaultStack) -> Iterator[list[ServiceProcess]]:
    """Start workers with `start(*args)`; every worker started is killed after the test."""
    started: list[ServiceProcess] = []

    def start(*args: str) -> ServiceProcess:
        proc = _spawn("worker", ["worker", *args], fleet.env, fleet.log_dir)
        wait_until(lambda: " ready." in proc.log_text(), READY_TIMEOUT_S, "a worker", proc)
        started.append(proc)
        fleet.workers.append(proc)  # in the failure messages (stack.logs())
        return proc

    yield start  # type: ignore[misc]
    for proc in started:
        proc.kill()
        fleet.workers.remove(proc)


def admin_client(fleet: FaultStack) -> httpx.Client:
    token = issue_token(fleet.settings.database_url, "ops", is_admin=True)
    client = httpx.Client(base_url=fleet.api.url, headers=token.headers, timeout=30)
    fleet.clients.append(client)
    return client


def gpu_job(
    gpus: int = 1, pool: str = "default", sleep_s: float = 0.3, epochs: int = 5, **extra: Any
) -> dict[str, Any]:
    return tiny_spec(
        module="device_reporter",
        module_params={"sleep_s": sleep_s},
        max_epochs=epochs,
        resources={"gpus": gpus, "pool": pool},
        **extra,
    )


def visible_devices(client: httpx.Client, job_id: str) -> str:
    """The CUDA_VISIBLE_DEVICES the job's process printed (tests.service_doubles)."""
    lines = client.get(f"/v1/jobs/{job_id}/logs").json()["items"]
    found = [
        m.group(1) for li in lines if (m := re.match(r"CUDA_VISIBLE_DEVICES='(.*)'", li["line"]))
    ]
    assert len(found) == 1, lines
    return found[0]


def running(job: dict[str, Any]) -> bool:
    return job["status"] == "running" and (job["progress"].get("step") or 0) >= 1


def test_two_one_gpu_jobs_run_together_on_their_own_gpus_and_a_third_waits_its_turn(
    fleet: FaultStack, workers: Any
) -> None:
    workers("--gpus", "0,1", "--cpu-slots", "1", "--pool", "sim2")
    client = fleet.client()
    spec = gpu_job(pool="sim2")
    first, second, third = (submit(client, spec)["id"] for _ in range(3))
    cpu = submit(client, tiny_spec(module="device_reporter", resources={"pool": "sim2"}))["id"]

    a = wait_job(client, first, fleet, until=running)
    b = wait_job(client, second, fleet, until=running)
    waiting = client.get(f"/v1/jobs/{third}").json()
    assert waiting["status"] == "queued" and a["status"] == b["status"] == "running"
    assert (waiting["queue"]["position"], waiting["queue"]["pending_reason"]) == (
        1, "waiting_for_gpus",
    )  # fmt: skip
    assert {a["placement"]["gpus"][0], b["placement"]["gpus"][0]} == {0, 1}

    done = [wait_job(client, j, fleet) for j in (first, second, third, cpu)]
    assert [j["status"] for j in done] == ["succeeded"] * 4, fleet.logs()
    seen = [visible_devices(client, j) for j in (first, second, third, cpu)]
    assert sorted(seen[:2]) == ["0", "1"]  # each its own GPU, as cuda:0 in its process
    assert seen[2] in {"0", "1"} and seen[3] == ""  # the CPU job sees no GPU
    started_third = done[2]["started_at"]
    assert started_third >= min(done[0]["finished_at"], done[1]["finished_at"])
    assert done[3]["placement"]["gpus"] == []


def test_a_two_gpu_job_never_starts_on_two_one_gpu_workers(fleet: FaultStack, workers: Any) -> None:
    workers("--gpus", "0", "--pool", "split")
    workers("--gpus", "0", "--pool", "split")
    client = fleet.client()
    job = submit(client, gpu_job(gpus=2, pool="split"))
    read = client.get(f"/v1/jobs/{job['id']}").json()
    assert (read["status"], read["placement"]) == ("queued", None)
    assert read["queue"]["pending_reason"] == "no_worker_fits"


def test_a_higher_priority_job_submitted_later_starts_first(
    fleet: FaultStack, workers: Any
) -> None:
    workers("--gpus", "0", "--cpu-slots", "0", "--pool", "prio")
    client = fleet.client()
    busy = submit(client, gpu_job(pool="prio", sleep_s=0.2, epochs=2))["id"]
    low = submit(client, gpu_job(pool="prio", sleep_s=0.05, epochs=1))["id"]
    high = submit(client, gpu_job(pool="prio", sleep_s=0.05, epochs=1, priority=10))["id"]
    queued = {j: client.get(f"/v1/jobs/{j}").json()["queue"] for j in (low, high)}
    assert (queued[high]["position"], queued[high]["pending_reason"]) == (1, "waiting_for_gpus")
    assert (queued[low]["position"], queued[low]["pending_reason"]) == (
        2, "higher_priority_ahead",
    )  # fmt: skip
    done = {j: wait_job(client, j, fleet) for j in (busy, high, low)}
    assert all(j["status"] == "succeeded" for j in done.values()), fleet.logs()
    assert done[busy]["finished_at"] <= done[high]["started_at"]
    assert done[high]["finished_at"] <= done[low]["started_at"]  # one GPU: one after the other


def _job_process(worker: ServiceProcess, job_id: str) -> int:
    match = re.search(rf"job {job_id} attempt \d+: process (\d+)", worker.log_text())
    assert match, worker.log_text()[-3000:]
    return int(match.group(1))


def test_a_killed_worker_frees_its_slots_after_the_reaper_and_its_job_resumes_elsewhere(
    fleet: FaultStack, workers: Any
) -> None:
    pair = [workers("--gpus", "0", "--cpu-slots", "0", "--pool", "kill") for _ in range(2)]
    client, admin = fleet.client(), admin_client(fleet)
    spec = gpu_job(pool="kill", sleep_s=0.25, epochs=10, checkpoint={"every_n_train_steps": 3})
    job = wait_job(
        client,
        submit(client, spec)["id"],
        fleet,
        until=lambda j: (j["progress"].get("step") or 0) >= 5,
    )
    victim_id = job["placement"]["worker"]
    first = next(w for w in pair if victim_id.endswith(f":{w.pid}"))
    second = next(w for w in pair if w is not first)
    child = _job_process(first, job["id"])

    first.kill()  # SIGKILL: the job process must not outlive it
    wait_until(lambda: not psutil.pid_exists(child) or psutil.Process(child).status() == "zombie",
               10, "the dead worker's job process to end")  # fmt: skip

    done = wait_job(client, job["id"], fleet)
    assert done["status"] == "succeeded", fleet.logs()
    assert [a["outcome"] for a in done["attempts"]] == ["infra_lost", "succeeded"]
    assert (
        done["placement"]["worker"] != victim_id and done["attempts"][1]["resumed_from_step"] >= 3
    )
    assert str(second.pid) in done["placement"]["worker"]
    workers_now = {w["id"]: w for w in admin.get("/v1/workers").json()["items"]}
    dead = workers_now[victim_id]
    assert dead["status"] == "offline" and dead["gpus"][0]["job_id"] is None  # freed by the reaper


def test_a_job_over_its_memory_limit_ends_oom_while_its_neighbour_finishes(
    fleet: FaultStack, workers: Any
) -> None:
    worker = workers("--gpus", "none", "--cpu-slots", "2", "--pool", "mem")
    client = fleet.client()
    hog = submit(client, tiny_spec(
        module="memory_hog", module_params={"hog_mb": 1500, "sleep_s": 0.3}, max_epochs=4,
        max_retries=0, resources={"pool": "mem", "memory_mb": 1200},
    ))["id"]  # fmt: skip
    neighbour = submit(client, tiny_spec(module_params={"sleep_s": 0.3}, max_epochs=3,
                                         resources={"pool": "mem"}))["id"]  # fmt: skip

    hogged = wait_job(client, hog, fleet)
    done = wait_job(client, neighbour, fleet)
    assert (hogged["status"], hogged["failure_class"]) == ("failed", "oom"), fleet.logs()
    assert hogged["error"]["type"] == "MemoryLimitExceeded"
    assert "1200 MiB" in hogged["error"]["message"]
    assert done["status"] == "succeeded"
    assert hogged["placement"]["worker"] == done["placement"]["worker"]  # same machine
    assert done["started_at"] < hogged["finished_at"]  # they ran side by side
    assert worker.alive()
    assert (
        not psutil.pid_exists(_job_process(worker, hog))
        or psutil.Process(_job_process(worker, hog)).status() == "zombie"
    )


def test_a_worker_naming_a_gpu_it_lacks_or_bad_options_refuses_to_start(
    fleet: FaultStack, tmp_path: Path
) -> None:
    bad = _spawn("worker", ["worker", "--gpus", "0,zero"], fleet.env, tmp_path)
    assert bad.popen.wait(60) == 2
    assert "--gpus '0,zero': give GPU indices" in bad.log_text()


def test_killing_one_job_process_leaves_the_worker_and_its_other_job_running(
    fleet: FaultStack, workers: Any
) -> None:
    worker = workers("--gpus", "none", "--cpu-slots", "2", "--pool", "solo-kill")
    client = fleet.client()
    long = tiny_spec(module_params={"sleep_s": 0.5}, max_epochs=15, resources={"pool": "solo-kill"})
    short = tiny_spec(module_params={"sleep_s": 0.2}, max_epochs=3, resources={"pool": "solo-kill"})
    victim = wait_job(client, submit(client, long)["id"], fleet, until=running)
    neighbour = wait_job(client, submit(client, short)["id"], fleet, until=running)
    assert client.get(f"/v1/jobs/{victim['id']}").json()["status"] == "running"

    psutil.Process(_job_process(worker, victim["id"])).kill()  # kill -9 of that job only

    again = wait_job(client, victim["id"], fleet)
    done = wait_job(client, neighbour["id"], fleet)
    assert (again["status"], done["status"]) == ("succeeded", "succeeded"), fleet.logs()
    first_attempt = again["attempts"][0]
    assert first_attempt["outcome"] == "infra_lost"
    assert "killed by signal 9" in first_attempt["error"]
    assert done["attempt"] == 1 and worker.alive()
