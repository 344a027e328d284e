"""Stop a request's work when its client goes away.

Without this a handler runs to its end for nobody: a ``max_count`` create kept making
servers after its client had hung up. ``CancelOnDisconnect`` reads the request's
messages in a helper task (one message ahead of the app, so uploads keep their back
pressure). A disconnect while the body is still coming reaches the app as a message, as
it always did, when the app is waiting for the next message; when it is busy elsewhere
(checking the token, looking things up before it reads the body, or after the whole
body, before the response is complete) the task running the app is cancelled. Handlers
see ``CancelledError`` at their
next await; those that write several objects undo them on ``BaseException`` (the
server create does), and allocations left behind are collected by
``kumo.control.allocations``. The request is then counted with status 499.
"""

from __future__ import annotations

import asyncio
import contextlib

from starlette.types import ASGIApp, Message, Receive, Scope, Send

DISCONNECT: Message = {"type": "http.disconnect"}
GONE = "kumo.client_gone"  # scope key set when the client went away mid-request
FAILED = "kumo.receive_failed"


class CancelOnDisconnect:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        me = asyncio.current_task()
        assert me is not None
        inbox: asyncio.Queue[Message] = asyncio.Queue(maxsize=1)
        done = False
        waiting = False  # the app is in receive(): a disconnect reaches it as a message

        async def pump() -> None:
            body_read = False
            try:
                while True:
                    msg = await receive()
                    if msg["type"] != "http.disconnect":
                        body_read = body_read or not msg.get("more_body")
                        await inbox.put(msg)
                    elif done:
                        return
                    else:
                        scope[GONE] = True
                        if body_read or not waiting:  # working for nobody: stop it now
                            me.cancel()
                        if not body_read:  # cut off mid-body: a reading app gets it as ever
                            await inbox.put(msg)
                        return
            except Exception as exc:  # the server's receive failed: the app's receive raises
                await inbox.put({"type": FAILED, "error": exc})

        async def app_receive() -> Message:
            nonlocal waiting
            waiting = True
            try:
                msg = await inbox.get()
            finally:
                waiting = False
            if msg["type"] == FAILED:
                raise msg["error"]
            if msg["type"] == "http.disconnect":
                inbox.put_nowait(msg)  # and every later receive
            return msg

        async def app_send(msg: Message) -> None:
            nonlocal done
            if msg["type"] == "http.response.body" and not msg.get("more_body"):
                done = True
            await send(msg)

        reader = asyncio.create_task(pump(), name="request-disconnect-watch")
        try:
            await self.app(scope, app_receive, app_send)
        except asyncio.CancelledError:
            if not scope.get(GONE) or me.uncancel() > 0:
                raise  # cancelled for another reason too (shutdown)
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
