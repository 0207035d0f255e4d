"""`queue` events: while a job waits, its stream says where it stands and why, and says it
again when that changes (other jobs placed ahead of it), on PostgreSQL+Redis and SQLite."""

from __future__ import annotations

import threading

from api.db.jobs import transition_job
from api.db.models import JobStatus
from api.db.scheduling import schedule_pass
from api.db.session import session_scope
from api.settings import Settings
from tests.conftest import ProjectToken
from tests.events.conftest import LiveServer
from tests.events.sse import Received, read_stream
from tests.fleet_helpers import register_fake_worker
from tests.worker.conftest import insert_job
from trainyard import Client


def queue_events(got: Received) -> list[tuple[int, str]]:
    return [(d["position"], d["pending_reason"]) for _, t, d in got.events if t == "queue"]


def test_a_waiting_job_streams_its_position_and_reason_as_they_change(
    server: LiveServer, settings: Settings, project_token: ProjectToken
) -> None:
    url = settings.database_url
    register_fake_worker(url, gpus=1, cpu_slots=0)
    spec = {"resources": {"gpus": 1}}
    running = insert_job(url, spec, project=project_token.project_name)
    schedule_pass(settings, lambda job_id: None)  # the GPU is taken
    ahead = insert_job(url, spec, project=project_token.project_name)
    mine = insert_job(url, spec, project=project_token.project_name)
    seen = threading.Event()

    def on_read(got: Received) -> None:
        if queue_events(got):
            seen.set()

    def free_the_gpu() -> None:
        assert seen.wait(30), "no queue event arrived"
        with session_scope(url) as session:  # the running job ends; the next one is placed
            transition_job(session, running, from_=["queued"], to=JobStatus.running)
            transition_job(session, running, from_=["running"], to=JobStatus.succeeded)
        schedule_pass(settings, lambda job_id: None)

    helper = threading.Thread(target=free_the_gpu)
    helper.start()
    got = read_stream(
        f"{server.url}/v1/jobs/{mine}/events",
        project_token.headers,
        on_read=on_read,
        until=lambda r: (1, "waiting_for_gpus") in queue_events(r),
    )
    helper.join(30)
    assert queue_events(got) == [(2, "higher_priority_ahead"), (1, "waiting_for_gpus")]
    stored = [i for i, t, _ in got.events if t != "queue"]
    assert all(i == stored[-1] for i, t, _ in got.events if t == "queue")  # no new ids
    assert ahead != mine


def test_the_python_client_yields_queue_events_only_when_asked(
    server: LiveServer, settings: Settings, project_token: ProjectToken
) -> None:
    waiting = insert_job(
        settings.database_url, {"resources": {"gpus": 4}}, project=project_token.project_name
    )
    with Client(server.url, token=project_token.token) as client:
        asked = client.stream_events(waiting, types=["status", "queue"])
        first = [next(asked), next(asked)]
        assert [e.type for e in first] == ["status", "queue"]
        assert first[1].id == first[0].id  # not stored: it repeats the id before it
        assert first[1].data["pending_reason"] == "pool_has_no_workers"
        client.cancel(waiting)
        default = [(e.id, e.type) for e in client.stream_events(waiting)]
    assert [t for _, t in default] == ["status", "status", "end"]  # no queue event unasked
    assert [i for i, _ in default] == sorted({i for i, _ in default})
