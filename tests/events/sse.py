"""A minimal SSE reader for tests, independent of trainyard.Client (which is tested apart)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class Received:
    events: list[tuple[int, str, Any]] = field(default_factory=list)  # (id, type, data)
    comments: list[str] = field(default_factory=list)
    closed_by_server: bool = False

    @property
    def ids(self) -> list[int]:
        return [e[0] for e in self.events]


def read_stream(
    url: str,
    headers: dict[str, str],
    *,
    params: dict[str, Any] | None = None,
    until: Callable[[Received], bool] = lambda r: False,
    on_read: Callable[[Received], None] = lambda r: None,
    timeout: float = 30.0,
) -> Received:
    """Read events until the server closes the stream or `until(received)` (then disconnect).

    `on_read(received)` runs after each event or comment, before `until`: a test's way to tell
    other threads how far this client got (it must not block for long).
    """
    got = Received()
    fields: dict[str, str] = {}
    with httpx.stream("GET", url, headers=headers, params=params, timeout=timeout) as response:
        assert response.status_code == 200, response.read().decode()
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith(":"):
                got.comments.append(line[1:].strip())
                on_read(got)
                if until(got):
                    return got
            elif line:
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
            elif "data" in fields:
                got.events.append((int(fields["id"]), fields["event"], json.loads(fields["data"])))
                fields = {}
                on_read(got)
                if until(got):
                    return got  # leaving the block disconnects mid-stream
            else:
                fields = {}
        got.closed_by_server = True
    return got
