"""EventHub.close_streams on API shutdown: every stream ends, whatever it is doing, and the
server stops without uvicorn having to give up on a connection (no graceful-shutdown timeout)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

from api.main import create_app
from api.settings import Settings
from tests.conftest import ProjectToken
from tests.events.conftest import JobWriter, LiveServer
from tests.events.sse import Received, read_stream

ENDS_WITHIN_S = 10.0  # a stream that outlives close_streams by this much never ends by itself


@pytest.fixture
def strict_server(settings: Settings) -> Iterator[LiveServer]:
    """A server whose stop waits for every open response: it stops only if the streams end."""
    live = LiveServer(create_app(settings, dispatcher=lambda job_id: None), graceful_s=None)
    with live:
        yield live


def note(condition: Callable[[Received], bool], reached: threading.Event) -> Callable[..., None]:
    """An `on_read` for read_stream that sets `reached` once `condition` holds."""
    return lambda received: reached.set() if condition(received) else None


def keep_writing(writer: JobWriter, stop: threading.Event) -> None:
    step = 0
    while not stop.wait(0.01):  # events keep coming, so streams are mid-flush at the close
        writer.metrics(step, 5)
        step += 5


def assert_ended_without_gap(result: Future[Received], writer: JobWriter) -> None:
    received = result.result(timeout=ENDS_WITHIN_S)
    assert received.closed_by_server
    assert received.events == writer.stored()[: len(received.events)]


def test_close_streams_ends_every_open_stream_and_the_server_stops(
    strict_server: LiveServer, project_token: ProjectToken, job_writer: Callable[[], JobWriter]
) -> None:
    strict_server.app.state.event_hub.keepalive_s = 0.2
    busy, long_history = job_writer(), job_writer()
    long_history.metrics(0, 1200)  # more than two pages to catch up on
    stop = threading.Event()
    opened: list[threading.Event] = []

    def open_stream(
        writer: JobWriter, condition: Callable[[Received], bool], **params: Any
    ) -> Future[Received]:
        opened.append(threading.Event())
        url = f"{strict_server.url}/v1/jobs/{writer.job_id}/events"
        on_read = note(condition, opened[-1])
        return pool.submit(read_stream, url, project_token.headers, params=params, on_read=on_read)

    with ThreadPoolExecutor(5) as pool:
        trainer = pool.submit(keep_writing, busy, stop)
        streams = [
            (open_stream(busy, lambda r: True), busy),  # following a job that keeps logging
            (open_stream(busy, lambda r: bool(r.comments), types="log"), busy),  # keep-alives only
            (open_stream(long_history, lambda r: True), long_history),  # catching up, maybe
        ]
        assert all(event.wait(30) for event in opened), "the streams did not open"
        strict_server.app.state.event_hub.close_streams()
        try:
            streams.append((open_stream(busy, lambda r: False), busy))  # opens while closing
            for result, writer in streams:
                assert_ended_without_gap(result, writer)
        finally:
            stop.set()
        trainer.result(timeout=ENDS_WITHIN_S)  # it stopped, and without an error
    strict_server.__exit__()  # asserts that uvicorn stopped: no response was left open


def test_the_first_stream_to_open_after_close_streams_ends_at_once(
    strict_server: LiveServer, project_token: ProjectToken, job_writer: Callable[[], JobWriter]
) -> None:
    writer = job_writer()
    writer.metrics(0, 10)
    strict_server.app.state.event_hub.close_streams()  # before any stream has followed a job
    url = f"{strict_server.url}/v1/jobs/{writer.job_id}/events"
    late = read_stream(url, project_token.headers, timeout=5)
    assert late.closed_by_server
    assert late.events == writer.stored()[: len(late.events)]
    strict_server.__exit__()
