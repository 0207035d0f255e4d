"""The scheduler (api/db/scheduling.py) and the queue view (api/db/queue.py) on a real PostgreSQL,
with workers registered as rows (tests/fleet_helpers.py): who is placed where, who waits and why.
The same passes with real worker processes are in tests/faults/test_fleet.py."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from api.db.jobs import transition_job
from api.db.models import Job, JobStatus, Project, WorkerSlot, utcnow
from api.db.queue import queue_info, queue_listing
from api.db.scheduling import schedule_pass, unplace_stale
from api.db.session import session_scope
from api.settings import Settings
from tests.fleet_helpers import go_offline, register_fake_worker
from tests.service_doubles import tiny_spec
from tests.worker.conftest import insert_job

TIMEOUT = 60.0


def settings_for(url: str, **overrides: Any) -> Settings:
    return Settings(database_url=url, **overrides)


def queue(url: str, *, gpus: int = 0, priority: int = 0, project: str = "p", **res: Any) -> str:
    return insert_job(
        url, tiny_spec(resources={"gpus": gpus, **res}, priority=priority), project=project
    )


def run_pass(url: str, **overrides: Any) -> list[str]:
    sent: list[str] = []
    schedule_pass(settings_for(url, **overrides), sent.append)
    return sent


def row(url: str, job_id: str) -> Job:
    with session_scope(url) as s:
        return s.get_one(Job, job_id)


def info(url: str, job_id: str) -> tuple[int | None, str | None]:
    with session_scope(url) as s:
        got = queue_info(s, s.get_one(Job, job_id), utcnow(), TIMEOUT)
        assert got is not None
        return got.position, got.pending_reason


def finish(url: str, job_id: str) -> None:
    """The job ran and succeeded, as its worker would record it."""
    with session_scope(url) as s:
        transition_job(s, job_id, from_=["queued"], to=JobStatus.running, worker_id="w")
        transition_job(s, job_id, from_=["running"], to=JobStatus.succeeded)


def held_slots(url: str) -> dict[str, list[tuple[str, str]]]:
    """job id -> [(worker, slot)] it holds."""
    out: dict[str, list[tuple[str, str]]] = {}
    with session_scope(url) as s:
        for w, slot, job in s.execute(
            select(WorkerSlot.worker_id, WorkerSlot.slot, WorkerSlot.job_id)
        ):
            if job is not None:
                out.setdefault(job, []).append((w, slot))
    return out


def test_two_one_gpu_jobs_share_a_two_gpu_worker_and_a_third_waits_first_in_line(
    database_url: str,
) -> None:
    url = database_url
    worker = register_fake_worker(url, gpus=2, cpu_slots=1)
    a, b, c = (queue(url, gpus=1) for _ in range(3))

    assert run_pass(url) == [a, b]

    placements = [row(url, j).placement for j in (a, b)]
    assert {p["worker"] for p in placements} == {worker}
    assert sorted(p["gpus"][0] for p in placements) == [0, 1]  # never the same GPU
    assert info(url, c) == (1, "waiting_for_gpus")
    assert info(url, a) == (None, None)  # placed: starting on its worker

    finish(url, a)
    assert run_pass(url) == [c]
    assert row(url, c).placement == {"worker": worker, "gpus": placements[0]["gpus"]}


def test_a_two_gpu_job_never_spans_two_one_gpu_workers(database_url: str) -> None:
    url = database_url
    register_fake_worker(url, gpus=1)
    register_fake_worker(url, gpus=1)
    big = queue(url, gpus=2)
    assert run_pass(url) == []
    assert row(url, big).placement is None
    assert info(url, big) == (1, "no_worker_fits")


def test_a_cpu_job_takes_a_cpu_slot_and_never_a_gpu(database_url: str) -> None:
    url = database_url
    worker = register_fake_worker(url, gpus=2, cpu_slots=1)
    cpu, second_cpu = queue(url), queue(url)
    assert run_pass(url) == [cpu]
    assert row(url, cpu).placement == {"worker": worker, "gpus": []}
    assert held_slots(url) == {cpu: [(worker, "cpu:0")]}
    assert info(url, second_cpu) == (1, "waiting_for_cpu_slot")  # two GPUs free all along


def test_a_higher_priority_job_submitted_later_starts_first(database_url: str) -> None:
    url = database_url
    register_fake_worker(url, gpus=1, cpu_slots=0)
    low = queue(url, gpus=1)
    high = queue(url, gpus=1, priority=10)
    assert info(url, high) == (1, "waiting_for_gpus")
    assert info(url, low) == (2, "higher_priority_ahead")
    assert run_pass(url) == [high]
    assert row(url, low).placement is None


def test_project_quotas_hold(database_url: str) -> None:
    url = database_url
    register_fake_worker(url, gpus=4, cpu_slots=0)
    first, second, other = queue(url, gpus=2), queue(url, gpus=2), queue(url, gpus=1, project="q")
    with session_scope(url) as s:
        s.execute(update(Project).where(Project.name == "p").values(max_gpus=3))
    assert run_pass(url) == [first, other]  # the second would take the project to 4 GPUs
    assert info(url, second) == (1, "project_quota")
    with session_scope(url) as s:
        s.execute(
            update(Project).where(Project.name == "p").values(max_gpus=None, max_running_jobs=1)
        )
    assert run_pass(url) == []
    assert info(url, second)[1] == "project_quota"


def test_jobs_of_a_pool_without_workers_or_with_missing_labels_wait_and_say_why(
    database_url: str,
) -> None:
    url = database_url
    register_fake_worker(url, gpus=1, labels={"gpu": "a100"})
    nowhere = queue(url, gpus=1, pool="tpu")
    wrong_label = queue(url, gpus=1, labels={"gpu": "h100"})
    right_label = queue(url, gpus=1, labels={"gpu": "a100"})
    assert run_pass(url) == [right_label]
    assert info(url, nowhere) == (1, "pool_has_no_workers")
    assert info(url, wrong_label) == (1, "no_worker_fits")


def test_backfill_passes_a_large_job_until_it_has_waited_past_the_limit(database_url: str) -> None:
    url = database_url
    worker = register_fake_worker(url, gpus=2, cpu_slots=0)
    running = queue(url, gpus=1)
    assert run_pass(url) == [running]  # one GPU busy
    large = queue(url, gpus=2)
    small = queue(url, gpus=1)
    assert info(url, small) == (2, "higher_priority_ahead")

    assert run_pass(url, scheduler_starvation_s=600) == [small]  # backfill: the small one passes
    finish(url, small)
    with session_scope(url) as s:  # the large job has now waited longer than the limit
        s.execute(
            update(Job).where(Job.id == large).values(queued_at=utcnow() - timedelta(seconds=5))
        )
    late_small = queue(url, gpus=1)
    assert run_pass(url, scheduler_starvation_s=2) == []  # the free GPU is held for the large job
    assert row(url, late_small).placement is None

    finish(url, running)
    assert run_pass(url, scheduler_starvation_s=2) == [large]
    assert row(url, large).placement == {"worker": worker, "gpus": [0, 1]}


def test_an_offline_worker_gets_nothing_and_its_unclaimed_placements_return(
    database_url: str,
) -> None:
    url = database_url
    gone = register_fake_worker(url, gpus=1)
    job = queue(url, gpus=1)
    assert run_pass(url) == [job]
    go_offline(url, gone)
    with session_scope(url) as s:
        assert unplace_stale(s, utcnow(), TIMEOUT) == [job]
    assert row(url, job).placement is None and held_slots(url) == {}
    assert run_pass(url) == []
    assert info(url, job) == (1, "pool_has_no_workers")
    alive = register_fake_worker(url, gpus=1)
    assert run_pass(url) == [job] and row(url, job).placement["worker"] == alive


def test_a_job_handed_back_frees_its_slots_and_is_placed_anew(database_url: str) -> None:
    url = database_url
    register_fake_worker(url, gpus=1)
    job = queue(url, gpus=1)
    run_pass(url)
    with session_scope(url) as s:
        transition_job(s, job, from_=["queued"], to=JobStatus.running, worker_id="w")
        transition_job(s, job, from_=["running"], to=JobStatus.queued, reason="lost")
    assert row(url, job).placement is None and held_slots(url) == {}
    assert run_pass(url) == [job]


def test_concurrent_scheduler_passes_never_double_book(database_url: str) -> None:
    url = database_url
    for _ in range(4):
        register_fake_worker(url, gpus=4, cpu_slots=2)
    jobs = [queue(url, gpus=g % 3, priority=g % 5) for g in range(40)]
    sent: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(4)

    def record(job_id: str) -> None:
        with lock:
            sent.append(job_id)

    def scheduler() -> None:
        start.wait()
        for _ in range(3):
            schedule_pass(settings_for(url), record)

    threads = [threading.Thread(target=scheduler) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)

    held = held_slots(url)
    slots = [slot for holding in held.values() for slot in holding]
    assert len(slots) == len(set(slots))  # no slot given twice
    assert sorted(sent) == sorted(held) and len(sent) == len(set(sent))  # each sent once
    for job_id, holding in held.items():
        placed = row(url, job_id)
        assert len(holding) == max(placed.gpus, 1)
        assert {w for w, _ in holding} == {placed.placement["worker"]}
    assert len(held) == sum(1 for j in jobs if row(url, j).placement is not None)
    # 16 GPUs and 8 CPU slots: every slot that some waiting job could use is taken.
    gpu_jobs = sum(row(url, j).gpus for j in held)
    assert gpu_jobs >= 15 and sum(1 for j in held if row(url, j).gpus == 0) == 8


def test_the_queue_listing_matches_each_job_s_own_view(database_url: str) -> None:
    url = database_url
    register_fake_worker(url, gpus=1, cpu_slots=0)
    jobs = [queue(url, gpus=1, priority=p) for p in (0, 5, 0, 5)]
    jobs.append(queue(url, gpus=2))
    run_pass(url)
    with session_scope(url) as s:
        listed = queue_listing(s, utcnow(), TIMEOUT)
        assert [j.id for j, _ in listed] == [jobs[1], jobs[3], jobs[0], jobs[2], jobs[4]]
        for job, got in listed:
            assert queue_info(s, job, utcnow(), TIMEOUT) == got
        reasons = [(q.position, q.pending_reason) for _, q in listed]
    assert reasons == [
        (None, None),
        (1, "waiting_for_gpus"),
        (2, "higher_priority_ahead"),
        (3, "higher_priority_ahead"),
        (4, "no_worker_fits"),
    ]
