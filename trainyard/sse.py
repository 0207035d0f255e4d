"""Parse a text/event-stream (the WHATWG Server-Sent Events format) line by line."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Message:
    """One dispatched SSE message. `event` is "message" when the server named none."""

    id: str | None
    event: str
    data: str


class Parser:
    """Feed it lines (without line endings); it returns each message as it completes.

    `last_id` and `retry_ms` persist across messages, as in EventSource: they are what a
    reconnecting client sends back and how long it waits first.
    """

    def __init__(self) -> None:
        self.last_id: str | None = None
        self.retry_ms: int | None = None
        self._data: list[str] = []
        self._event = ""

    def feed(self, line: str) -> Message | None:
        if not line:  # a blank line dispatches what was gathered
            message = None
            if self._data:
                message = Message(self.last_id, self._event or "message", "\n".join(self._data))
            self._data, self._event = [], ""
            return message
        if line.startswith(":"):
            return None  # a comment: the server's keep-alive
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self.last_id = value
        elif name == "retry" and value.isdigit():
            self.retry_ms = int(value)
        return None


def parse(lines: Iterable[str], parser: Parser | None = None) -> Iterator[Message]:
    """The messages of a stream of lines."""
    parser = parser or Parser()
    for line in lines:
        message = parser.feed(line)
        if message is not None:
            yield message
