"""/v2/lbaas/loadbalancers: create (VIP on a subnet, network or port), show, list, update,
delete (?cascade=true), and the /stats and /status trees the agent measures."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo.core import loadbalancers as core_lbs
from kumo.core import loadbalancers_tree as tree

from ...runtime import runtime
from . import graph, views
from .common import (
    actor,
    body,
    filtered,
    find_lb,
    named_fields,
    project_of,
    to_bool,
    to_ip,
    to_str,
    to_tags,
    visible_lbs,
)
from .errors import bad

Obj = dict[str, Any]
_CREATE = {"name", "description", "admin_state_up", "vip_subnet_id", "vip_network_id",
           "vip_port_id", "vip_address", "provider", "flavor_id", "project_id", "tenant_id",
           "tags", "listeners", "pools", "availability_zone", "vip_qos_policy_id"}
_UPDATE = {"name", "description", "admin_state_up", "tags", "vip_qos_policy_id"}
STAT_KEYS = ("active_connections", "bytes_in", "bytes_out", "request_errors",
             "total_connections")


async def index(request: Request) -> Response:
    a = await actor(request)
    lbs = [views.lb_view(lb) for lb in await visible_lbs(request, a)]
    return JSONResponse({"loadbalancers": filtered(request, lbs), "loadbalancers_links": []})


async def show(request: Request) -> Response:
    a = await actor(request)
    lb = await find_lb(request, a, request.path_params["lb_id"])
    return JSONResponse({"loadbalancer": views.lb_view(lb)})


async def create(request: Request) -> Response:
    a = await actor(request)
    data = await body(request, "loadbalancer", _CREATE)
    if data.get("provider") not in (None, "kumo"):
        raise bad(f"Provider '{data['provider']}' is not enabled.")
    ops = graph.parse(data)
    req = core_lbs.LbRequest(
        project=project_of(a, data), name=to_str("name", data.get("name")),
        description=to_str("description", data.get("description")),
        admin_state_up=to_bool("admin_state_up", data.get("admin_state_up", True)),
        vip_subnet_id=data.get("vip_subnet_id"), vip_network_id=data.get("vip_network_id"),
        vip_port_id=data.get("vip_port_id"),
        vip_address=to_ip("vip_address", data["vip_address"]) if data.get("vip_address")
        else None, flavor_id=data.get("flavor_id"), tags=to_tags(data.get("tags", [])),
        fill=(lambda spec: tree.graft(spec, ops)) if ops else None)
    lb = await core_lbs.create_lb(runtime(request).objects, a, req)
    return JSONResponse({"loadbalancer": views.lb_view(lb)}, status_code=201)


async def update(request: Request) -> Response:
    a = await actor(request)
    data = await body(request, "loadbalancer", _UPDATE)
    lb = await find_lb(request, a, request.path_params["lb_id"])
    lb = await core_lbs.update_lb(runtime(request).objects, a, lb, named_fields(data))
    return JSONResponse({"loadbalancer": views.lb_view(lb)})


async def delete(request: Request) -> Response:
    a = await actor(request)
    lb = await find_lb(request, a, request.path_params["lb_id"])
    cascade = request.query_params.get("cascade", "").lower() in ("1", "true", "yes")
    await core_lbs.delete_lb(runtime(request).objects, a, lb, cascade)
    return Response(status_code=204)


def _stats(raw: Obj | None) -> Obj:
    raw = raw or {}
    return {"active_connections": int(raw.get("scur", 0)), "bytes_in": int(raw.get("bin", 0)),
            "bytes_out": int(raw.get("bout", 0)), "request_errors": int(raw.get("ereq", 0)),
            "total_connections": int(raw.get("stot", 0))}


async def stats(request: Request) -> Response:
    """Octavia's counters (sums over the listeners), read from HAProxy by the agent."""
    a = await actor(request)
    lb = await find_lb(request, a, request.path_params["lb_id"])
    measured = (lb.get("status") or {}).get("stats") or {}
    total = dict.fromkeys(STAT_KEYS, 0)
    for x in lb["spec"].get("listeners") or []:
        for k, v in _stats(measured.get(x["id"])).items():
            total[k] += v
    return JSONResponse({"stats": total})


async def listener_stats(request: Request) -> Response:
    a = await actor(request)
    lb, x = await tree.find(runtime(request).objects, a, tree.LISTENER,
                            request.path_params["listener_id"])
    return JSONResponse({"stats": _stats(((lb.get("status") or {}).get("stats") or {})
                                         .get(x["id"]))})


def _status_tree(lb: Obj) -> Obj:
    spec = lb["spec"]
    pools = {p["id"]: p for p in spec.get("pools") or []}

    def one(child: Obj, **more: Any) -> Obj:
        v = views._common(lb, child)
        return {"id": v["id"], "name": v["name"], "provisioning_status":
                v["provisioning_status"], "operating_status": v["operating_status"], **more}

    def pool(p: Obj) -> Obj:
        hm = p.get("healthMonitor")
        extra: Obj = {"members": [one(m, address=m["address"],
                                      protocol_port=m["protocolPort"])
                                  for m in p.get("members") or []]}
        if hm:
            extra["health_monitor"] = {**one(hm), "type": hm["type"]}
        return one(p, **extra)

    listeners = [one(x, pools=[pool(pools[x["defaultPoolId"]])]
                     if x.get("defaultPoolId") in pools else [])
                 for x in spec.get("listeners") or []]
    top = views.lb_view(lb)
    return {"loadbalancer": {"id": top["id"], "name": top["name"],
                             "provisioning_status": top["provisioning_status"],
                             "operating_status": top["operating_status"],
                             "listeners": listeners}}


async def status(request: Request) -> Response:
    a = await actor(request)
    lb = await find_lb(request, a, request.path_params["lb_id"])
    return JSONResponse({"statuses": _status_tree(lb)})
