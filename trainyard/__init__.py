"""Trainyard: train PyTorch models over HTTP. `trainyard.Client` talks to a server.

The client is imported on first use, so the API, which imports only `trainyard.schemas`,
never loads httpx or the client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trainyard.client import Client, Event, TrainyardError
    from trainyard.download import ChecksumError

__all__ = ["ChecksumError", "Client", "Event", "TrainyardError"]


def __getattr__(name: str) -> Any:
    if name in ("Client", "Event", "TrainyardError"):
        from trainyard import client

        return getattr(client, name)
    if name == "ChecksumError":
        from trainyard.download import ChecksumError

        return ChecksumError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
