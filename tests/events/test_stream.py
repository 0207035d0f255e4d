"""GET /v1/jobs/{id}/events over a real uvicorn, on PostgreSQL + Redis and on SQLite + polling."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx

from api.db.models import JobStatus
from tests.conftest import ProjectToken
from tests.events.conftest import JobWriter, LiveServer
from tests.events.sse import Received, read_stream


def events_url(server: LiveServer, job_id: str) -> str:
    return f"{server.url}/v1/jobs/{job_id}/events"


def test_reconnect_with_last_event_id_resumes_without_gap_or_duplicate(
    server: LiveServer, project_token: ProjectToken, job_writer: Callable[[], JobWriter]
) -> None:
    writer = job_writer()
    writer.metrics(0, 40)  # history before anyone connects
    first_gone = threading.Event()

    def train() -> None:
        for start in range(40, 200, 10):  # live events while the first client listens...
            writer.metrics(start, 10)
            time.sleep(0.02)
        first_gone.wait(30)
        for start in range(200, 260, 10):  # ...and while nobody does
            writer.metrics(start, 10)
        time.sleep(0.3)
        writer.metrics(260, 20)  # and after the second client is back
        writer.finish()

    trainer = threading.Thread(target=train)
    trainer.start()
    url = events_url(server, writer.job_id)
    first = read_stream(url, project_token.headers, until=lambda r: len(r.events) >= 120)
    first_gone.set()
    assert not first.closed_by_server
    second = read_stream(url, {**project_token.headers, "Last-Event-ID": str(first.ids[-1])})
    trainer.join()

    stored = writer.stored()
    assert second.closed_by_server and second.events[-1][1] == "end"
    assert first.events + second.events == stored  # in order, nothing missing, nothing twice
    assert [t for _, t, _ in stored].count("metric") == 280


def test_a_finished_job_streams_its_whole_history_then_end_and_closes(
    server: LiveServer, project_token: ProjectToken, job_writer: Callable[[], JobWriter]
) -> None:
    writer = job_writer()
    writer.metrics(0, 1200)  # more than one page of history
    writer.append([("log", {"stream": "stdout", "line": "hello", "at": time.time()})])
    writer.finish(JobStatus.failed)
    url = events_url(server, writer.job_id)

    whole = read_stream(url, project_token.headers)
    assert whole.closed_by_server
    assert whole.events == writer.stored()
    assert whole.events[-1][1:] == ("end", {"status": "failed"})
    assert [t for _, t, _ in whole.events[:2]] == ["status", "status"]  # queued, running

    tail = read_stream(url, project_token.headers, params={"since": whole.ids[-3]})
    assert tail.events == whole.events[-2:]
    only_logs = read_stream(url, project_token.headers, params={"types": "log"})
    assert [(t, d.get("line")) for _, t, d in only_logs.events] == [("log", "hello"), ("end", None)]


def test_many_clients_each_receive_every_event(
    server: LiveServer, project_token: ProjectToken, job_writer: Callable[[], JobWriter]
) -> None:
    writer = job_writer()
    clients = 25
    connected = threading.Barrier(clients + 1, timeout=30)

    def listen(_: int) -> Received:
        return read_stream(
            events_url(server, writer.job_id),
            project_token.headers,
            until=lambda r: (len(r.events) == 2 and connected.wait() and False) or False,
        )

    with ThreadPoolExecutor(clients) as pool:
        futures = [pool.submit(listen, i) for i in range(clients)]
        connected.wait()  # every client has the history (queued, running) and is live
        for start in range(0, 300, 30):
            writer.metrics(start, 30)
            time.sleep(0.05)
        writer.finish()
        results = [f.result(timeout=60) for f in futures]
    stored = writer.stored()
    assert all(r.closed_by_server and r.events == stored for r in results)


def test_idle_stream_sends_keep_alive_comments(
    server: LiveServer, project_token: ProjectToken, job_writer: Callable[[], JobWriter]
) -> None:
    server.app.state.event_hub.keepalive_s = 0.2
    writer = job_writer()
    idle = read_stream(
        events_url(server, writer.job_id),
        project_token.headers,
        until=lambda r: len(r.comments) >= 2,
    )
    assert idle.comments[:2] == ["keep-alive", "keep-alive"]
    assert [t for _, t, _ in idle.events] == ["status", "status"]


def test_bad_requests_answer_4xx_with_an_error_code(
    server: LiveServer, project_token: ProjectToken, job_writer: Callable[[], JobWriter]
) -> None:
    writer = job_writer()
    url = events_url(server, writer.job_id)
    cases = [
        (url, {"Last-Event-ID": "seven"}, None, 422, "validation_error"),
        (url, {}, {"types": "metrics"}, 422, "validation_error"),
        (url, {}, {"since": "-1"}, 422, "validation_error"),
        (events_url(server, "0" * 32), {}, None, 404, "job_not_found"),
    ]
    for target, headers, params, status, code in cases:
        response = httpx.get(
            target, headers={**project_token.headers, **headers}, params=params, timeout=10
        )
        assert (response.status_code, response.json()["error_code"]) == (status, code)
    anonymous = httpx.get(url, timeout=10)
    assert (anonymous.status_code, anonymous.json()["error_code"]) == (401, "unauthorized")
