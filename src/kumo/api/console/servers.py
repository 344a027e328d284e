"""Servers: the list (live), one server (actions, console log, timeline), create.

The list reads the store in the token's project (``Actor.sees``) and renders Nova's own
status mapping; ``Accept: text/event-stream`` on the same URL follows the store's watch
from the list's revision and sends each changed row (no polling; a compacted revision
tells the page to reload).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response, StreamingResponse

from kumo.common.errors import Gone
from kumo.model import compute as cm

from ..openstack.compute.views import server_status
from ..runtime import runtime
from . import apicall
from .forms import posted
from .render import handler, page
from .session import context, session_token

Obj = dict[str, Any]
ACTIONS = {"start": {"os-start": None}, "stop": {"os-stop": None},
           "reboot": {"reboot": {"type": "SOFT"}}}


def row(server: Obj) -> Obj:
    spec, st = server["spec"], server.get("status") or {}
    return {"id": server["metadata"]["name"], "name": spec.get("displayName", ""),
            "status": server_status(server), "host": bool(st.get("host")),
            "flavor": (spec.get("flavor") or {}).get("name", ""),
            "created": server["metadata"].get("creationTimestamp", "")}


def rows_html(rows: list[Obj]) -> Markup:
    """The list's rows, escaped, without a template loop: at a thousand servers the loop
    was most of the page's time."""
    return Markup("".join(
        f'<tr id="s-{escape(r["id"])}"><td><a href="/console/servers/{escape(r["id"])}">'
        f'{escape(r["name"] or r["id"])}</a></td><td class="st-{escape(r["status"])}">'
        f'{escape(r["status"])}</td><td>{escape(r["flavor"])}</td>'
        f'<td>{escape(r["created"])}</td></tr>\n' for r in rows))


def _namespace(ctx: Any) -> str | None:
    """An admin's list is still its project's (Horizon's project view); the admin pages
    show the cloud."""
    return ctx.project_id or ""


@handler
async def servers(request: Request) -> Response:
    ctx = await context(request)
    objects = runtime(request).objects
    if "text/event-stream" in request.headers.get("accept", ""):
        return StreamingResponse(_stream(request, _namespace(ctx), ctx.expires_at),
                                 media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store"})
    listed = await objects.list(cm.SERVER, _namespace(ctx))
    rows = sorted((row(s) for s in listed.items), key=lambda r: r["created"], reverse=True)
    return page(request, "servers.html", ctx, here="servers", rows=rows_html(rows),
                revision=listed.resource_version, form=None, error=None, choices=None)


async def _stream(request: Request, namespace: str | None,
                  expires_at: float) -> AsyncIterator[bytes]:
    """Every Server change of the project from the page's revision, as SSE events, until
    the token expires (then the page reloads, which sends it to the login form)."""
    raw = request.query_params.get("rev") or request.headers.get("last-event-id") or "0"
    rev = int(raw) if raw.isdigit() and len(raw) < 19 else 0
    yield b"retry: 1000\n\n"
    queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=1024)

    async def follow() -> None:  # the watch in its own task; the stream waits on a queue
        try:
            async for ev in runtime(request).objects.watch(cm.SERVER, namespace, rev):
                await queue.put(ev)
        except Gone as exc:
            await queue.put(exc)

    watcher = asyncio.create_task(follow())
    try:
        while True:
            ev = await asyncio.wait_for(queue.get(), max(1.0, expires_at - time.time()))
            if isinstance(ev, Gone):
                raise ev
            if ev.object is not None:
                data = row(ev.object)
                data["gone"] = ev.type == "DELETED"
                yield f"id: {ev.revision}\ndata: {json.dumps(data)}\n\n".encode()
    except (Gone, TimeoutError):
        yield b"event: reload\ndata: {}\n\n"
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)


@handler
async def server(request: Request) -> Response:
    ctx = await context(request)
    sid, token = request.path_params["server_id"], session_token(request)
    body = await apicall.ok(request, "GET", f"/compute/v2.1/servers/{sid}", token)
    r = await apicall.call(request, "POST", f"/compute/v2.1/servers/{sid}/action", token,
                           json={"os-getConsoleOutput": {"length": 50}})
    log = r.json().get("output", "") if r.status_code == 200 else apicall.message_of(r)
    return page(request, "server.html", ctx, here="servers", s=body["server"], log=log)


@handler
async def action(request: Request) -> Response:
    form = await posted(request)
    await context(request)
    sid, token = request.path_params["server_id"], session_token(request)
    what = str(form.get("action") or "")
    if what == "delete":
        await apicall.ok(request, "DELETE", f"/compute/v2.1/servers/{sid}", token)
        return RedirectResponse("/console/servers", status_code=303)
    if what not in ACTIONS:
        raise apicall.ApiFailed(400, f"Unknown action {what[:40]!r}.")
    await apicall.ok(request, "POST", f"/compute/v2.1/servers/{sid}/action", token,
                     json=ACTIONS[what])
    return RedirectResponse(f"/console/servers/{sid}", status_code=303)
