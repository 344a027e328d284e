"""/v2/lbaas/listeners and /v2/lbaas/pools: parse, call kumo.core.loadbalancers_tree,
render (members and health monitors: members.py)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo.common.clock import now_seconds_iso
from kumo.core import loadbalancers_tree as tree

from ...runtime import runtime
from . import views
from .common import (
    actor,
    body,
    common_fields,
    filtered,
    find_child,
    find_lb,
    to_enum,
    to_int,
    unsupported,
    visible_lbs,
)
from .errors import bad

Obj = dict[str, Any]
LISTENER_PROTOCOLS = ("TCP", "HTTP", "HTTPS", "UDP", "TERMINATED_HTTPS", "SCTP", "PROMETHEUS")
POOL_PROTOCOLS = ("TCP", "HTTP", "HTTPS", "PROXY", "PROXYV2", "UDP", "SCTP")
ALGORITHMS = ("ROUND_ROBIN", "LEAST_CONNECTIONS", "SOURCE_IP", "SOURCE_IP_PORT")
SUPPORTED = {"listener": ("TCP", "HTTP", "HTTPS"), "pool": ("TCP", "HTTP", "HTTPS", "PROXY"),
             "algorithm": ("ROUND_ROBIN", "LEAST_CONNECTIONS", "SOURCE_IP")}
_COMMON = {"name", "description", "admin_state_up", "tags"}
_L_UPDATE = _COMMON | {"connection_limit", "default_pool_id", "timeout_client_data",
                       "timeout_member_connect", "timeout_member_data", "timeout_tcp_inspect",
                       "insert_headers", "allowed_cidrs"}
L_CREATE = _L_UPDATE | {"protocol", "protocol_port", "loadbalancer_id", "project_id",
                         "tenant_id", "default_pool", "l7policies"}
_P_UPDATE = _COMMON | {"lb_algorithm", "session_persistence"}
POOL_CREATE = _P_UPDATE | {"protocol", "loadbalancer_id", "listener_id", "project_id",
                         "tenant_id", "members", "healthmonitor"}


def _listener_fields(data: Obj) -> Obj:
    out = common_fields(data)
    if "connection_limit" in data:
        out["connectionLimit"] = to_int("connection_limit", data["connection_limit"], -1,
                                        1_000_000)
    for key, camel in (("timeout_client_data", "timeoutClientData"),
                       ("timeout_member_connect", "timeoutMemberConnect"),
                       ("timeout_member_data", "timeoutMemberData"),
                       ("timeout_tcp_inspect", "timeoutTcpInspect")):
        if data.get(key) is not None:
            out[camel] = to_int(key, data[key], 0, 86_400_000)
    if "default_pool_id" in data:
        out["defaultPoolId"] = data["default_pool_id"] or None
    if data.get("insert_headers") is not None:
        if not isinstance(data["insert_headers"], dict):
            raise bad("insert_headers must be an object")
        out["insertHeaders"] = {str(k): str(v) for k, v in data["insert_headers"].items()}
    if data.get("allowed_cidrs") is not None:
        out["allowedCidrs"] = [str(c) for c in data["allowed_cidrs"]]
    return out


# ---- listeners --------------------------------------------------------------------------
async def listener_index(request: Request) -> Response:
    a = await actor(request)
    out = [views.listener_view(lb, x) for lb in await visible_lbs(request, a)
           for x in lb["spec"].get("listeners") or []]
    return JSONResponse({"listeners": filtered(request, out), "listeners_links": []})


async def listener_show(request: Request) -> Response:
    _, lb, x = await find_child(request, tree.LISTENER, "listener_id")
    return JSONResponse({"listener": views.listener_view(lb, x)})


def new_listener(data: Obj) -> Obj:
    """A listener from Octavia's fields (also used by the single-call tree)."""
    protocol = to_enum("protocol", data.get("protocol"), LISTENER_PROTOCOLS)
    if protocol not in SUPPORTED["listener"]:
        raise unsupported("listener protocol", protocol)
    port = to_int("protocol_port", data.get("protocol_port"), 1, 65535)
    return {"protocol": protocol, "protocolPort": port, "createdAt": now_seconds_iso(),
            "name": "", "description": "", "adminStateUp": True, "connectionLimit": -1,
            **_listener_fields(data), "updatedAt": None}


async def listener_create(request: Request) -> Response:
    a = await actor(request)
    data = await body(request, "listener", L_CREATE)
    if data.get("default_pool") or data.get("l7policies"):
        raise bad("Nested pools and L7 policies are accepted when the load balancer is "
                  "created in one call.")
    child = new_listener(data)
    if not data.get("loadbalancer_id"):
        raise bad("Missing mandatory field/attribute loadbalancer_id.")
    lb = await find_lb(request, a, str(data["loadbalancer_id"]))
    lb, x = await tree.add(runtime(request).objects, a, lb, tree.LISTENER, child)
    return JSONResponse({"listener": views.listener_view(lb, x)}, status_code=201)


async def listener_update(request: Request) -> Response:
    a, lb, x = await find_child(request, tree.LISTENER, "listener_id")
    data = await body(request, "listener", _L_UPDATE)
    lb, x = await tree.change(runtime(request).objects, a, lb, tree.LISTENER, x["id"],
                              _listener_fields(data))
    return JSONResponse({"listener": views.listener_view(lb, x)})


async def listener_delete(request: Request) -> Response:
    a, lb, x = await find_child(request, tree.LISTENER, "listener_id")
    await tree.remove(runtime(request).objects, a, lb, tree.LISTENER, x["id"])
    return Response(status_code=204)


# ---- pools ------------------------------------------------------------------------------
def _pool_fields(data: Obj) -> Obj:
    out = common_fields(data)
    if "lb_algorithm" in data:
        alg = to_enum("lb_algorithm", data["lb_algorithm"], ALGORITHMS)
        if alg not in SUPPORTED["algorithm"]:
            raise unsupported("lb_algorithm", alg)
        out["lbAlgorithm"] = alg
    if "session_persistence" in data:
        sp = data["session_persistence"]
        if sp is not None and (not isinstance(sp, dict) or sp.get("type") not in
                               ("SOURCE_IP", "HTTP_COOKIE", "APP_COOKIE")):
            raise bad(f"Invalid input for field/attribute session_persistence. Value: '{sp}'.")
        out["sessionPersistence"] = sp
    return out


async def pool_index(request: Request) -> Response:
    a = await actor(request)
    out = [views.pool_view(lb, p) for lb in await visible_lbs(request, a)
           for p in lb["spec"].get("pools") or []]
    return JSONResponse({"pools": filtered(request, out), "pools_links": []})


async def pool_show(request: Request) -> Response:
    _, lb, p = await find_child(request, tree.POOL, "pool_id")
    return JSONResponse({"pool": views.pool_view(lb, p)})


async def _pool_lb(request: Request, a: Any, data: Obj) -> Obj:
    if data.get("loadbalancer_id"):
        return await find_lb(request, a, str(data["loadbalancer_id"]))
    if data.get("listener_id"):
        lb, _ = await tree.find(runtime(request).objects, a, tree.LISTENER,
                                str(data["listener_id"]))
        return lb
    raise bad("Validation failure: Either loadbalancer_id or listener_id must be specified.")


def new_pool(data: Obj) -> Obj:
    """A pool from Octavia's fields (also used by the single-call tree)."""
    protocol = to_enum("protocol", data.get("protocol"), POOL_PROTOCOLS)
    if protocol not in SUPPORTED["pool"]:
        raise unsupported("pool protocol", protocol)
    if "lb_algorithm" not in data:
        raise bad("Missing mandatory field/attribute lb_algorithm.")
    return {"protocol": protocol, "listenerId": data.get("listener_id"), "members": [],
            "healthMonitor": None, "name": "", "description": "", "adminStateUp": True,
            "createdAt": now_seconds_iso(), "sessionPersistence": None,
            **_pool_fields(data), "updatedAt": None}


async def pool_create(request: Request) -> Response:
    a = await actor(request)
    data = await body(request, "pool", POOL_CREATE)
    if data.get("members") or data.get("healthmonitor"):
        raise bad("Nested members and health monitors are accepted when the load balancer "
                  "is created in one call.")
    child = new_pool(data)
    lb = await _pool_lb(request, a, data)
    lb, p = await tree.add(runtime(request).objects, a, lb, tree.POOL, child)
    return JSONResponse({"pool": views.pool_view(lb, p)}, status_code=201)


async def pool_update(request: Request) -> Response:
    a, lb, p = await find_child(request, tree.POOL, "pool_id")
    data = await body(request, "pool", _P_UPDATE)
    lb, p = await tree.change(runtime(request).objects, a, lb, tree.POOL, p["id"],
                              _pool_fields(data))
    return JSONResponse({"pool": views.pool_view(lb, p)})


async def pool_delete(request: Request) -> Response:
    a, lb, p = await find_child(request, tree.POOL, "pool_id")
    await tree.remove(runtime(request).objects, a, lb, tree.POOL, p["id"])
    return Response(status_code=204)
