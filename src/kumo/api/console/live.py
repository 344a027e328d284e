"""Server-sent events from the store's watch: one or more kinds of one project, from the
page's revision, until the session's token expires.

Each watch runs in its own task and feeds one queue, so the stream can wait on the queue
with a deadline (a watch iterator cannot be abandoned mid-step). A compacted revision or
the token's expiry sends ``event: reload``: the page reloads (and meets the login form
when the session is over).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import StreamingResponse

from kumo.common.errors import Gone
from kumo.store.objects import WatchEvent

from ..runtime import runtime

Obj = dict[str, Any]
Render = Callable[[WatchEvent], Obj | None]
RELOAD = b"event: reload\ndata: {}\n\n"


def wants_stream(request: Request) -> bool:
    return "text/event-stream" in request.headers.get("accept", "")


def start_revision(request: Request) -> int:
    raw = request.query_params.get("rev") or request.headers.get("last-event-id") or "0"
    return int(raw) if raw.isdigit() and len(raw) < 19 else 0


def response(request: Request, kinds: list[str], namespace: str | None, expires_at: float,
             render: Render) -> StreamingResponse:
    return StreamingResponse(_events(request, kinds, namespace, expires_at, render),
                             media_type="text/event-stream",
                             headers={"Cache-Control": "no-store"})


async def _events(request: Request, kinds: list[str], namespace: str | None,
                  expires_at: float, render: Render) -> AsyncIterator[bytes]:
    rev = start_revision(request)
    queue: asyncio.Queue[WatchEvent | Gone] = asyncio.Queue(maxsize=1024)

    async def follow(kind: str) -> None:
        try:
            async for ev in runtime(request).objects.watch(kind, namespace, rev):
                await queue.put(ev)
        except Gone as exc:
            await queue.put(exc)

    watchers = [asyncio.create_task(follow(k)) for k in kinds]
    yield b"retry: 1000\n\n"
    try:
        while True:
            ev = await asyncio.wait_for(queue.get(), max(1.0, expires_at - time.time()))
            if isinstance(ev, Gone):
                raise ev
            data = render(ev)
            if data is not None:
                yield f"id: {ev.revision}\ndata: {json.dumps(data)}\n\n".encode()
    except (Gone, TimeoutError):
        yield RELOAD
    finally:
        for w in watchers:
            w.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
