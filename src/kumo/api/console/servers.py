"""Servers: the list (live), one server (actions, console log, timeline), create.

The list reads the store in the token's project (``Actor.sees``) and renders Nova's own
status mapping; ``Accept: text/event-stream`` on the same URL follows the store's watch
from the list's revision and sends each changed row (``live``; no polling). A server's
page does the same for its status and console log.
"""

from __future__ import annotations

import functools
from typing import Any

from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from kumo.model import compute as cm
from kumo.store.objects import WatchEvent

from ..openstack.compute.views import server_status
from ..runtime import runtime
from . import apicall, live
from .forms import posted
from .render import handler, page
from .session import context, session_token

Obj = dict[str, Any]
ACTIONS = {"start": {"os-start": None}, "stop": {"os-stop": None},
           "reboot": {"reboot": {"type": "SOFT"}}}
LOG_LINES = 50


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
    if live.wants_stream(request):
        return live.response(request, [cm.SERVER], _namespace(ctx), ctx.expires_at,
                             _list_event)
    listed = await objects.list(cm.SERVER, _namespace(ctx))
    rows = sorted((row(s) for s in listed.items), key=lambda r: r["created"], reverse=True)
    return page(request, "servers.html", ctx, here="servers", rows=rows_html(rows),
                revision=listed.resource_version, form=None, error=None, choices=None)


def _list_event(ev: WatchEvent) -> Obj | None:
    if ev.object is None:
        return None
    return {**row(ev.object), "gone": ev.type == "DELETED"}


@handler
async def server(request: Request) -> Response:
    """One server (read through Nova, which decides who may see it); as an event stream,
    its status and console log as they change."""
    ctx = await context(request)
    sid, token = apicall.segment(request.path_params["server_id"]), session_token(request)
    revision = await runtime(request).objects.revision()  # before the read: nothing missed
    body = await apicall.ok(request, "GET", f"/compute/v2.1/servers/{sid}", token)
    if live.wants_stream(request):
        ns = body["server"]["tenant_id"]
        return live.response(request, [cm.SERVER, cm.CONSOLE_LOG], ns, ctx.expires_at,
                             functools.partial(_detail_event, sid))
    r = await apicall.call(request, "POST", f"/compute/v2.1/servers/{sid}/action", token,
                           json={"os-getConsoleOutput": {"length": LOG_LINES}})
    log = r.json().get("output", "") if r.status_code == 200 else apicall.message_of(r)
    return page(request, "server.html", ctx, here="servers", s=body["server"], log=log,
                revision=revision)


def _detail_event(sid: str, ev: WatchEvent) -> Obj | None:
    obj = ev.object
    if obj is None or obj["metadata"]["name"] != sid:
        return None
    if obj["kind"] == cm.CONSOLE_LOG:
        text = (obj.get("spec") or {}).get("text") or ""
        return {"log": "\n".join(text.splitlines()[-LOG_LINES:])}
    return {"status": "DELETED" if ev.type == "DELETED" else server_status(obj)}


@handler
async def action(request: Request) -> Response:
    form = await posted(request)
    await context(request)
    sid, token = apicall.segment(request.path_params["server_id"]), session_token(request)
    what = str(form.get("action") or "")
    if what == "delete":
        await apicall.ok(request, "DELETE", f"/compute/v2.1/servers/{sid}", token)
        return RedirectResponse("/console/servers", status_code=303)
    if what not in ACTIONS:
        raise apicall.ApiFailed(400, f"Unknown action {what[:40]!r}.")
    await apicall.ok(request, "POST", f"/compute/v2.1/servers/{sid}/action", token,
                     json=ACTIONS[what])
    return RedirectResponse(f"/console/servers/{sid}", status_code=303)
