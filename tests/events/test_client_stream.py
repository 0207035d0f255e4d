"""trainyard.Client.stream_events: reconnects by itself and resumes by event id."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from api.main import create_app
from api.settings import Settings
from tests.conftest import ProjectToken
from tests.events.conftest import JobWriter, LiveServer
from trainyard import Client, TrainyardError


@pytest.fixture(params=["postgres+redis"])  # the restart is the point, not the stack
def stack(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_stream_survives_an_api_restart_without_gap_or_duplicate(
    settings: Settings, project_token: ProjectToken, job_writer: Callable[[], JobWriter]
) -> None:
    writer = job_writer()
    writer.metrics(0, 50)
    servers = [LiveServer(create_app(settings, dispatcher=lambda job_id: None)).__enter__()]
    reconnects: list[BaseException | None] = []
    received = []
    try:
        with Client(servers[0].url, project_token.token) as client:
            events = client.stream_events(
                writer.job_id, on_reconnect=lambda error, delay: reconnects.append(error)
            )
            for event in events:
                received.append(event)
                if len(received) == 30:
                    servers[0].__exit__()  # the API goes away mid-stream...
                    writer.metrics(50, 50)  # ...the job goes on...
                    writer.finish()
                    # ...and a new API process (sharing no state with the first) comes back.
                    app = create_app(settings, dispatcher=lambda job_id: None)
                    servers.append(LiveServer(app, port=servers[0].port).__enter__())
    finally:
        servers[-1].__exit__()
    assert reconnects, "the client never had to reconnect"
    assert [(e.id, e.type, e.data) for e in received] == writer.stored()
    assert received[-1].type == "end"


def test_stream_of_an_unknown_job_raises_at_once(
    server: LiveServer, project_token: ProjectToken
) -> None:
    with Client(server.url, project_token.token) as client:
        with pytest.raises(TrainyardError) as caught:
            next(client.stream_events("0" * 32))
    assert (caught.value.status, caught.value.error_code) == (404, "job_not_found")
