"""ASGI middleware: a request body size cap that also holds for chunked uploads."""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import ErrorCode


class BodyTooLarge(HTTPException):
    """Raised from `receive` once a body without (or beyond) a Content-Length passes the cap.

    An HTTPException on purpose: FastAPI turns any other error raised while it reads a body
    into a 400 "error parsing the body", but re-raises HTTPExceptions, so the app's handler
    answers 413 `payload_too_large` wherever the body is read.
    """

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, detail=too_large_detail(max_bytes))


def too_large_detail(max_bytes: int) -> str:
    return f"request body is larger than {max_bytes} bytes (MAX_REQUEST_BYTES)"


class BodySizeLimit:
    """Answer 413 `payload_too_large` for bodies over `max_bytes`, before they are parsed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        # 19 digits or more is over any limit; such a number is never parsed (a thousand
        # digits would pass Python's integer-string limit).
        if (
            declared
            and declared.isdigit()
            and (len(declared) > 18 or int(declared) > self.max_bytes)
        ):
            await self._reject(send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            # Read outside the app's handlers (a route streaming its body itself).
            if not started:
                await self._reject(send)

    async def _reject(self, send: Send) -> None:
        body = json.dumps(
            {
                "error_code": str(ErrorCode.payload_too_large),
                "detail": too_large_detail(self.max_bytes),
            }
        ).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
