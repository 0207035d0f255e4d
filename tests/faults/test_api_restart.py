"""The API process restarts while clients follow a job's events (SSE): they reconnect with
Last-Event-ID and miss nothing, and see nothing twice."""

from __future__ import annotations

import signal
import threading
from typing import Any

from tests.faults.conftest import FaultStack, submit, wait_job
from tests.service_doubles import tiny_spec
from trainyard.client import Client


def follow(url: str, token: str, job_id: str, into: list[Any], errors: list[BaseException]) -> None:
    with Client(url, token) as client:
        try:
            into.extend(client.stream_events(job_id, last_event_id=0, read_timeout=20))
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)


def test_sse_clients_reconnect_across_an_api_restart_and_miss_nothing(
    fault_stack: FaultStack,
) -> None:
    stack = fault_stack
    stack.ensure_workers(1)
    client = stack.client()
    job = submit(client, tiny_spec(max_epochs=4, module_params={"sleep_s": 0.4}))
    streams: list[list[Any]] = [[], []]
    errors: list[BaseException] = []
    own = client.headers["Authorization"].removeprefix("Bearer ")  # the job's project's token
    threads = [
        threading.Thread(target=follow, args=(stack.api.url, own, job["id"], s, errors))
        for s in streams
    ]
    for t in threads:
        t.start()
    wait_job(client, job["id"], stack, until=lambda j: (j["progress"].get("step") or 0) >= 2)
    seen_before = [len(s) for s in streams]

    assert stack.restart_api() == -signal.SIGTERM  # it stopped by itself, not by SIGKILL

    for t in threads:
        t.join(120)
        assert not t.is_alive(), f"a client still follows the job\n{stack.logs()}"
    assert not errors, errors
    done = wait_job(client, job["id"], stack)
    assert done["status"] == "succeeded"
    with Client(stack.api.url, own) as fresh:  # the whole history, read after the fact
        history = [e.id for e in fresh.stream_events(job["id"], last_event_id=0)]
    assert history == list(range(1, len(history) + 1))
    for stream, before in zip(streams, seen_before, strict=True):
        assert 0 < before < len(stream)  # it was connected before the restart, and after
        assert [e.id for e in stream] == history  # every event once, in order
        assert stream[-1].type == "end"
