"""/v2/lbaas/pools/{pool_id}/members (one, and the batch update) and
/v2/lbaas/healthmonitors."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo.common.clock import now_seconds_iso
from kumo.core import loadbalancers_tree as tree

from ...common import read_json
from ...runtime import runtime
from . import views
from .common import (
    actor,
    body,
    common_fields,
    filtered,
    find_child,
    to_bool,
    to_enum,
    to_int,
    to_ip,
    to_str,
    unsupported,
    visible_lbs,
)
from .errors import bad, invalid

Obj = dict[str, Any]
_M_UPDATE = {"name", "admin_state_up", "weight", "backup", "monitor_address",
             "monitor_port", "tags"}
MEMBER_CREATE = _M_UPDATE | {"address", "protocol_port", "subnet_id", "project_id", "tenant_id"}
HM_TYPES = ("HTTP", "HTTPS", "PING", "TCP", "TLS-HELLO", "UDP-CONNECT", "SCTP")
HM_SUPPORTED = ("HTTP", "HTTPS", "PING", "TCP", "TLS-HELLO")
METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "TRACE", "OPTIONS", "PATCH", "CONNECT")
_H_UPDATE = {"name", "admin_state_up", "delay", "timeout", "max_retries", "max_retries_down",
             "http_method", "url_path", "expected_codes", "tags", "http_version",
             "domain_name"}
HM_CREATE = _H_UPDATE | {"pool_id", "type", "project_id", "tenant_id"}


def _member_fields(data: Obj) -> Obj:
    out = common_fields(data)
    if "weight" in data:
        out["weight"] = to_int("weight", data["weight"], 0, 256)
    if "backup" in data:
        out["backup"] = to_bool("backup", data["backup"])
    if data.get("monitor_address") is not None:
        out["monitorAddress"] = to_ip("monitor_address", data["monitor_address"])
    if data.get("monitor_port") is not None:
        out["monitorPort"] = to_int("monitor_port", data["monitor_port"], 1, 65535)
    return out


def new_member(data: Obj) -> Obj:
    return {"address": to_ip("address", data.get("address")),
            "protocolPort": to_int("protocol_port", data.get("protocol_port"), 1, 65535),
            "subnetId": data.get("subnet_id"), "name": "", "adminStateUp": True,
            "weight": 1, "backup": False, "createdAt": now_seconds_iso(),
            **_member_fields(data), "updatedAt": None}


def _member(pool: Obj, member_id: str) -> Obj:
    m = next((m for m in pool.get("members") or [] if m["id"] == member_id), None)
    if m is None:
        raise tree.not_found(tree.MEMBER, member_id)
    return m


async def member_index(request: Request) -> Response:
    _, lb, pool = await find_child(request, tree.POOL, "pool_id")
    out = [views.member_view(lb, m) for m in pool.get("members") or []]
    return JSONResponse({"members": filtered(request, out), "members_links": []})


async def member_show(request: Request) -> Response:
    _, lb, pool = await find_child(request, tree.POOL, "pool_id")
    return JSONResponse({"member": views.member_view(
        lb, _member(pool, request.path_params["member_id"]))})


async def member_create(request: Request) -> Response:
    a, lb, pool = await find_child(request, tree.POOL, "pool_id")
    data = await body(request, "member", MEMBER_CREATE)
    lb, m = await tree.add(runtime(request).objects, a, lb, tree.MEMBER, new_member(data),
                           pool["id"])
    return JSONResponse({"member": views.member_view(lb, m)}, status_code=201)


async def member_update(request: Request) -> Response:
    a, lb, pool = await find_child(request, tree.POOL, "pool_id")
    m = _member(pool, request.path_params["member_id"])
    data = await body(request, "member", _M_UPDATE)
    lb, m = await tree.change(runtime(request).objects, a, lb, tree.MEMBER, m["id"],
                              _member_fields(data))
    return JSONResponse({"member": views.member_view(lb, m)})


async def member_delete(request: Request) -> Response:
    a, lb, pool = await find_child(request, tree.POOL, "pool_id")
    m = _member(pool, request.path_params["member_id"])
    await tree.remove(runtime(request).objects, a, lb, tree.MEMBER, m["id"])
    return Response(status_code=204)


async def member_batch(request: Request) -> Response:
    """PUT .../members: the pool's members become the list given (202, Octavia's answer)."""
    a, lb, pool = await find_child(request, tree.POOL, "pool_id")
    data = await read_json(request)
    if not isinstance(data.get("members"), list):
        raise bad("Invalid input: 'members' must be a list.")
    members = []
    for raw in data["members"]:
        if not isinstance(raw, dict):
            raise invalid("members", raw)
        members.append(new_member(raw))
    await tree.replace_members(runtime(request).objects, a, lb, pool["id"], members)
    return Response(status_code=202)


# ---- health monitors ----------------------------------------------------------------------
def _hm_fields(data: Obj) -> Obj:
    out = common_fields(data)
    for key, camel, lo, hi in (("delay", "delay", 0, 2147483647),
                               ("timeout", "timeout", 0, 2147483647),
                               ("max_retries", "maxRetries", 1, 10),
                               ("max_retries_down", "maxRetriesDown", 1, 10)):
        if data.get(key) is not None:
            out[camel] = to_int(key, data[key], lo, hi)
    if data.get("http_method") is not None:
        out["httpMethod"] = to_enum("http_method", data["http_method"], METHODS)
    if data.get("url_path") is not None:
        path = to_str("url_path", data["url_path"])
        if not path.startswith("/"):
            raise invalid("url_path", path, "Value should be a valid URL path")
        out["urlPath"] = path
    if data.get("expected_codes") is not None:
        out["expectedCodes"] = to_str("expected_codes", data["expected_codes"])
    return out


def _hms(lb: Obj) -> list[tuple[Obj, Obj]]:
    return [(p, p["healthMonitor"]) for p in lb["spec"].get("pools") or []
            if p.get("healthMonitor")]


async def hm_index(request: Request) -> Response:
    a = await actor(request)
    out = [views.monitor_view(lb, p, h) for lb in await visible_lbs(request, a)
           for p, h in _hms(lb)]
    return JSONResponse({"healthmonitors": filtered(request, out), "healthmonitors_links": []})


async def _hm(request: Request) -> tuple[Any, Obj, Obj, Obj]:
    a = await actor(request)
    lb, h = await tree.find(runtime(request).objects, a, tree.MONITOR,
                            request.path_params["hm_id"])
    pool = next(p for p, x in _hms(lb) if x["id"] == h["id"])
    return a, lb, pool, h


async def hm_show(request: Request) -> Response:
    _, lb, pool, h = await _hm(request)
    return JSONResponse({"healthmonitor": views.monitor_view(lb, pool, h)})


def new_monitor(data: Obj) -> Obj:
    """A health monitor from Octavia's fields (also used by the single-call tree)."""
    typ = to_enum("type", data.get("type"), HM_TYPES)
    if typ not in HM_SUPPORTED:
        raise unsupported("health monitor type", typ)
    for key in ("delay", "timeout", "max_retries"):
        if data.get(key) is None:
            raise bad(f"Missing mandatory field/attribute {key}.")
    child = {"type": typ, "name": "", "adminStateUp": True, "maxRetriesDown": 3,
             "createdAt": now_seconds_iso(), **_hm_fields(data), "updatedAt": None}
    if typ in ("HTTP", "HTTPS"):
        child.setdefault("httpMethod", "GET")
        child.setdefault("urlPath", "/")
        child.setdefault("expectedCodes", "200")
    return child


async def hm_create(request: Request) -> Response:
    a = await actor(request)
    data = await body(request, "healthmonitor", HM_CREATE)
    child = new_monitor(data)
    lb, pool = await tree.find(runtime(request).objects, a, tree.POOL,
                               str(data.get("pool_id")))
    lb, h = await tree.add(runtime(request).objects, a, lb, tree.MONITOR, child, pool["id"])
    pool = tree.pool_of(lb["spec"], pool["id"])
    return JSONResponse({"healthmonitor": views.monitor_view(lb, pool, h)}, status_code=201)


async def hm_update(request: Request) -> Response:
    a, lb, pool, h = await _hm(request)
    data = await body(request, "healthmonitor", _H_UPDATE)
    lb, h = await tree.change(runtime(request).objects, a, lb, tree.MONITOR, h["id"],
                              _hm_fields(data))
    return JSONResponse({"healthmonitor": views.monitor_view(lb, pool, h)})


async def hm_delete(request: Request) -> Response:
    a, lb, _, h = await _hm(request)
    await tree.remove(runtime(request).objects, a, lb, tree.MONITOR, h["id"])
    return Response(status_code=204)
