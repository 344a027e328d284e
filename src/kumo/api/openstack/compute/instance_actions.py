"""Instance actions: one InstanceAction object per tenant action, its steps are Events.

The facade records the action and its own step ("<Action>Accepted", component
compute-api); the scheduler and agents add their steps as Events carrying the
same request id (Server.spec.requestId). ``os-instance-actions`` joins them.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo import store
from kumo.model import compute as cm
from kumo.model import events

from ...auth import AuthContext
from ...runtime import runtime
from .common import (
    COMPONENT,
    SERVER_LABEL,
    bad,
    caller,
    compute_root,
    find_server,
    limit_marker,
    microtime,
    not_found,
    page,
    parse_time,
)
from .microversion import at_least
from .views import host_id

log = logging.getLogger("kumo.api.compute")
Obj = dict[str, Any]


async def record_action(objects: store.ObjectStore, server: Obj, action: str, req_id: str,
                        ctx: AuthContext, message: str | None = None) -> Obj:
    """Create the InstanceAction (name = request id; suffixed if that name is taken)."""
    md = server["metadata"]
    spec = {"server": md["name"], "action": action, "requestId": req_id,
            "userId": ctx.user_id, "projectId": md["namespace"], "startTime": store.now_iso(),
            "message": message}
    for attempt in range(5):
        name = req_id if attempt == 0 else f"{req_id}.{md['name'][:8]}.{attempt}"
        obj = {"apiVersion": "kumo.io/v1", "kind": cm.INSTANCE_ACTION,
               "metadata": {"name": name, "namespace": md["namespace"],
                            "labels": {SERVER_LABEL: md["name"]},
                            "ownerReferences": [{"apiVersion": "kumo.io/v1", "kind": cm.SERVER,
                                                 "name": md["name"], "uid": md.get("uid")}]},
               "spec": spec}
        try:
            return await objects.create(obj)
        except store.AlreadyExists:
            continue
    raise store.AlreadyExists(f"InstanceAction {req_id!r}")


async def record_step(objects: store.ObjectStore, server: Obj, reason: str, message: str,
                      req_id: str, start: str | None = None, warning: bool = False) -> None:
    """The facade's own step as an Event; losing it must not fail the request."""
    try:
        await events.record(objects, server, COMPONENT, reason, message, start=start,
                            request_id=req_id, type_="Warning" if warning else "Normal")
    except store.StoreError:
        log.exception("could not record event %s", reason)


async def actions_of(objects: store.ObjectStore, server: Obj) -> list[Obj]:
    md = server["metadata"]
    found = await objects.list(cm.INSTANCE_ACTION, md["namespace"],
                               label_selector=f"{SERVER_LABEL}={md['name']}")
    return sorted(found.items, key=lambda a: a["spec"].get("startTime") or "", reverse=True)


async def steps_of(objects: store.ObjectStore, server: Obj, req_id: str) -> list[Obj]:
    md = server["metadata"]
    found = await objects.list("Event", md["namespace"],
                               label_selector=f"involved-uid={md.get('uid', '')}")
    steps = [e for e in found.items if e.get("requestId") == req_id]
    return sorted(steps, key=lambda e: (e.get("startTime") or "", e.get("endTime") or ""))


def _action_view(request: Request, action: Obj, last_step: str | None) -> Obj:
    spec = action["spec"]
    out = {"action": spec.get("action"), "instance_uuid": spec.get("server"),
           "request_id": spec.get("requestId"), "user_id": spec.get("userId"),
           "project_id": spec.get("projectId"), "start_time": microtime(spec.get("startTime")),
           "message": spec.get("message")}
    if at_least(request, "2.58"):
        out["updated_at"] = microtime(max(filter(None, [spec.get("startTime"), last_step])))
    return out


def _event_view(request: Request, ctx: AuthContext, ev: Obj, project: str) -> Obj:
    warning = ev.get("type") == "Warning"
    out: Obj = {"event": ev.get("reason"), "start_time": microtime(ev.get("startTime")),
                "finish_time": microtime(ev.get("endTime")),
                "result": "Error" if warning else "Success"}
    if ctx.is_admin:
        out["traceback"] = ev.get("message") if warning else None
        if at_least(request, "2.62"):
            out["host"] = ev.get("host")
    if at_least(request, "2.62"):
        out["hostId"] = host_id(project, ev.get("host"))
    if at_least(request, "2.84") and ctx.is_admin:
        out["details"] = ev.get("message") if warning else None
    return out


async def _last_steps(objects: store.ObjectStore, server: Obj) -> dict[str, str]:
    md = server["metadata"]
    found = await objects.list("Event", md["namespace"],
                               label_selector=f"involved-uid={md.get('uid', '')}")
    last: dict[str, str] = {}
    for e in found.items:
        rid, end = e.get("requestId"), e.get("endTime") or e.get("startTime") or ""
        if rid and end > last.get(rid, ""):
            last[rid] = end
    return last


def _time_filter(request: Request, name: str) -> Any:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    parsed = parse_time(raw)
    if parsed is None:
        raise bad(f"Invalid input for query parameters {name}. Value: {raw}. "
                  f"'{raw}' is not a 'date-time'")
    return parsed


async def index(request: Request) -> Response:
    ctx = await caller(request)
    server = await find_server(request, ctx, request.path_params["server_id"])
    objects = runtime(request).objects
    actions = await actions_of(objects, server)
    last = await _last_steps(objects, server)
    views = [_action_view(request, a, last.get(a["spec"].get("requestId", ""))) for a in actions]
    body: Obj = {"instanceActions": views}
    if not at_least(request, "2.58"):
        return JSONResponse(body)
    since, before = _time_filter(request, "changes-since"), _time_filter(request, "changes-before")
    if since and before and before < since:
        raise bad("The value of changes-since must be less than or equal to changes-before.")
    if since or before:
        views = [v for v in views if (not since or parse_time(v["updated_at"]) >= since)
                 and (not before or parse_time(v["updated_at"]) <= before)]
    limit, marker = limit_marker(request)
    if marker is not None and marker not in {v["request_id"] for v in views}:
        raise bad(f"Marker {marker} could not be found.")
    views = page(views, lambda v: v["request_id"], limit, marker)
    body = {"instanceActions": views}
    if views and len(views) == limit:
        sid = server["metadata"]["name"]
        body["links"] = [{"rel": "next", "href": f"{compute_root(request)}/v2.1/servers/{sid}/"
                          f"os-instance-actions?limit={limit}&marker={views[-1]['request_id']}"}]
    return JSONResponse(body)


async def show(request: Request) -> Response:
    ctx = await caller(request)
    server = await find_server(request, ctx, request.path_params["server_id"])
    req_id = request.path_params["request_id"]
    objects = runtime(request).objects
    action = next((a for a in await actions_of(objects, server)
                   if a["spec"].get("requestId") == req_id), None)
    if action is None:
        raise not_found(f"Action {req_id} not found")
    steps = await steps_of(objects, server, req_id)
    last = max((e.get("endTime") or "" for e in steps), default=None)
    view = _action_view(request, action, last)
    if ctx.is_admin or at_least(request, "2.51"):
        project = server["metadata"]["namespace"]
        view["events"] = [_event_view(request, ctx, e, project) for e in steps]
    return JSONResponse({"instanceAction": view})
