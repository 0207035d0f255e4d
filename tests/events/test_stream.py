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

WAIT_S = 30.0  # how long one client or writer may wait for another before the test fails


def events_url(server: LiveServer, job_id: str) -> str:
    return f"{server.url}/v1/jobs/{job_id}/events"


def test_reconnect_with_last_event_id_resumes_without_gap_or_duplicate(
    server: LiveServer, project_token: ProjectToken, job_writer: Callable[[], JobWriter]
) -> None:
    writer = job_writer()
    writer.metrics(0, 40)  # history before anyone connects
    history = len(writer.stored())
    first_caught_up, first_gone, second_caught_up = (threading.Event() for _ in range(3))

    def train() -> None:
        assert first_caught_up.wait(WAIT_S), "the first client never read the history"
        writer.metrics(40, 160)  # live events while the first client listens...
        assert first_gone.wait(WAIT_S)
        writer.metrics(200, 60)  # ...and while nobody does
        assert second_caught_up.wait(WAIT_S), "the second client never caught up"
        writer.metrics(260, 20)  # and after the second client is back
        writer.finish()

    def note(reached: threading.Event, seq: int) -> Callable[[Received], None]:
        return lambda r: reached.set() if r.events and r.ids[-1] >= seq else None

    url = events_url(server, writer.job_id)
    with ThreadPoolExecutor(1) as pool:
        trainer = pool.submit(train)
        first = read_stream(
            url,
            project_token.headers,
            on_read=note(first_caught_up, history),
            until=lambda r: len(r.events) >= 120,
        )
        first_gone.set()
        last_offline = history + 160 + 60  # the id of the last event written while away
        second = read_stream(
            url,
            {**project_token.headers, "Last-Event-ID": str(first.ids[-1])},
            on_read=note(second_caught_up, last_offline),
        )
        trainer.result(timeout=WAIT_S)  # re-raises the trainer's failure, if any

    stored = writer.stored()
    assert not first.closed_by_server and len(first.events) == 120 > history  # some were live
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
    caught_up = [threading.Event() for _ in range(clients)]

    def listen(i: int) -> Received:
        return read_stream(
            events_url(server, writer.job_id),
            project_token.headers,
            on_read=lambda r: caught_up[i].set() if len(r.events) == 2 else None,
        )

    with ThreadPoolExecutor(clients) as pool:
        futures = [pool.submit(listen, i) for i in range(clients)]
        for reached in caught_up:  # every client has the history (queued, running)
            assert reached.wait(WAIT_S), "a client never received the history"
        for start in range(0, 300, 30):  # so everything from here on reaches them live
            writer.metrics(start, 30)
        writer.finish()
        results = [f.result(timeout=60) for f in futures]
    stored = writer.stored()
    assert len(stored) == 2 + 300 + 2  # queued, running, the metrics, succeeded, end
    for received in results:
        assert received.closed_by_server
        assert received.events == stored


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
