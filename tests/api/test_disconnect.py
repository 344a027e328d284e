"""``CancelOnDisconnect`` before the body has arrived: a handler busy before it reads the
body (token check, lookups) is cancelled when its client goes; one waiting for the body
gets the disconnect as a message, as before.

Before: a disconnect before the whole body only reached the app at its next receive, so
a handler kept working for nobody until it read the body (or to its end, if it never did).
"""

from __future__ import annotations

import asyncio

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from kumo.api.disconnect import GONE, CancelOnDisconnect

SCOPE: Scope = {"type": "http", "method": "POST", "path": "/", "headers": [],
                "query_string": b""}


def _client(messages: list[Message]) -> Receive:
    """The server's receive: these messages, then the client goes."""
    async def receive() -> Message:
        if messages:
            return messages.pop(0)
        await asyncio.sleep(0.05)
        return {"type": "http.disconnect"}
    return receive


async def _sink(msg: Message) -> None:
    pass


async def test_busy_before_the_body_is_cancelled_when_the_client_goes() -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await asyncio.sleep(2)  # work before reading the body
            seen.append("worked on")
            await Request(scope, receive).body()
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise
        await Response(status_code=201)(scope, receive, send)

    scope = dict(SCOPE)
    t0 = asyncio.get_running_loop().time()
    await CancelOnDisconnect(app)(scope, _client([]), _sink)
    assert seen == ["cancelled"] and scope[GONE] is True
    assert asyncio.get_running_loop().time() - t0 < 1.0


async def test_reading_the_body_gets_the_disconnect_as_a_message() -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await Request(scope, receive).body()
        except ClientDisconnect:
            seen.append("disconnect")  # an upload cleans up here
            return

    scope = dict(SCOPE)
    await CancelOnDisconnect(app)(scope, _client([{"type": "http.request", "body": b"x",
                                                   "more_body": True}]), _sink)
    assert seen == ["disconnect"] and scope[GONE] is True


async def test_a_whole_body_and_a_response_is_not_cancelled() -> None:
    sent: list[Message] = []

    async def send(msg: Message) -> None:
        sent.append(msg)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        body = await Request(scope, receive).body()
        await Response(body, status_code=201)(scope, receive, send)

    scope = dict(SCOPE)
    await CancelOnDisconnect(app)(scope, _client([{"type": "http.request", "body": b"ok",
                                                   "more_body": False}]), send)
    assert sent[0]["status"] == 201 and sent[-1]["body"] == b"ok" and GONE not in scope
