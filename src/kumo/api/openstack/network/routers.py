"""Routers: /v2.0/routers (router, extraroute) and the add/remove_router_interface
actions. The face parses and renders; kumo.core.routers and router_interfaces decide."""

from __future__ import annotations

import ipaddress
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo.core import router_interfaces as core_ifaces
from kumo.core import routers as core_routers
from kumo.core.ports import FixedIp
from kumo.model import network as nm

from ...runtime import Runtime, runtime
from .common import (
    Caller,
    caller,
    check_keys,
    check_project,
    create_request,
    delete_request,
    find_owned,
    list_owned,
    read_body,
    standard,
    to_bool,
    to_str,
    to_tags,
    update_request,
    writable,
)
from .errors import bad_request, invalid
from .lists import listed, shown

Obj = dict[str, Any]
_CREATE = {"name", "description", "admin_state_up", "external_gateway_info", "tags",
           "project_id", "tenant_id", "availability_zone_hints"}
_UPDATE = {"name", "description", "admin_state_up", "external_gateway_info", "routes"}
_READ_ONLY = ("id", "project_id", "tenant_id", "status")
_GW_KEYS = {"network_id", "enable_snat", "external_fixed_ips", "qos_policy_id"}


def router_view(router: Obj) -> Obj:
    spec = router["spec"]
    gw = spec.get("externalGateway")
    info = None
    if gw:
        info = {"network_id": gw["networkId"], "enable_snat": gw.get("enableSnat", True),
                "external_fixed_ips": [{"subnet_id": f["subnetId"], "ip_address": f["ipAddress"]}
                                       for f in gw.get("externalFixedIps") or []]}
    return {**standard(router), "name": spec.get("name", ""),
            "admin_state_up": spec.get("adminStateUp", True),
            "status": (router.get("status") or {}).get("status", "ACTIVE"),
            "external_gateway_info": info,
            "routes": [{"destination": r["destination"], "nexthop": r["nexthop"]}
                       for r in spec.get("routes") or []]}


def _gateway(c: Caller, value: Any) -> core_routers.Gateway | None:
    if value is None or value == {}:
        return None
    if not isinstance(value, dict):
        raise invalid(f"Invalid input for external_gateway_info. Reason: '{value}' is not "
                      "a dictionary.")
    check_keys(value, _GW_KEYS)
    if not value.get("network_id"):
        raise invalid("Invalid input for external_gateway_info. Reason: network_id is "
                      "required.")
    snat = value.get("enable_snat")
    if snat is not None:
        snat = to_bool("enable_snat", snat)
    fixed = None
    if value.get("external_fixed_ips") is not None:
        if not isinstance(value["external_fixed_ips"], list):
            raise invalid("Invalid input for external_fixed_ips. Reason: not a list.")
        fixed = [FixedIp(f.get("subnet_id"), f.get("ip_address"))
                 for f in value["external_fixed_ips"] if isinstance(f, dict)]
    return core_routers.Gateway(str(value["network_id"]), snat, fixed)


def _routes(value: Any) -> list[Obj]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise invalid(f"Invalid input for routes. Reason: '{value}' is not a list.")
    out: list[Obj] = []
    for r in value:
        try:
            dest = ipaddress.IPv4Network(r["destination"], strict=False)
            hop = ipaddress.IPv4Address(r["nexthop"])
        except (KeyError, TypeError, ValueError) as exc:
            raise invalid(f"Invalid input for routes. Reason: '{r}' is not a valid route."
                          ) from exc
        route = {"destination": str(dest), "nexthop": str(hop)}
        if route in out:
            raise invalid(f"Duplicate route '{r}'.")
        out.append(route)
    return out


async def find_router(rt: Runtime, c: Caller, router_id: str) -> Obj:
    return await find_owned(rt, c, nm.ROUTER, router_id)


async def index(request: Request) -> Response:
    c = await caller(request)
    return listed(request, "routers", router_view,
                  await list_owned(runtime(request), c, nm.ROUTER))


async def show(request: Request) -> Response:
    c = await caller(request)
    router = await find_router(runtime(request), c, request.path_params["router_id"])
    return shown(request, "router", router_view(router))


async def create(request: Request) -> Response:
    c, data = await create_request(request, "router", _CREATE)
    rt = runtime(request)
    req = core_routers.RouterRequest(
        project=check_project(c, data), name=to_str("name", data.get("name", "")),
        description=to_str("description", data.get("description", "")),
        admin_state_up=to_bool("admin_state_up", data.get("admin_state_up", True)),
        gateway=_gateway(c, data.get("external_gateway_info")),
        tags=to_tags(data.get("tags", [])))
    router = await core_routers.create_router(rt.objects, c.actor(), req)
    return JSONResponse({"router": router_view(router)}, status_code=201)


async def update(request: Request) -> Response:
    rt, c, router, data = await update_request(request, "router", find_router, "router_id",
                                               _UPDATE, _READ_ONLY)
    upd = core_routers.RouterUpdate()
    for key, field in (("name", "name"), ("description", "description")):
        if key in data:
            upd.spec[field] = to_str(key, data[key])
    if "admin_state_up" in data:
        upd.spec["adminStateUp"] = to_bool("admin_state_up", data["admin_state_up"])
    if "external_gateway_info" in data:
        upd.gateway = _gateway(c, data["external_gateway_info"])
    if "routes" in data:
        upd.routes = _routes(data["routes"])
    router = await core_routers.update_router(rt.objects, c.actor(), router, upd)
    return JSONResponse({"router": router_view(router)})


async def delete(request: Request) -> Response:
    rt, c, router = await delete_request(request, "router", find_router, "router_id")
    await core_routers.delete_router(rt.objects, c.actor(), router)
    return Response(status_code=204)


# ---- interfaces -------------------------------------------------------------------------
def _iface_view(i: core_ifaces.Interface) -> Obj:
    return {"id": i.router_id, "tenant_id": i.project, "project_id": i.project,
            "port_id": i.port_id, "network_id": i.network_id, "subnet_id": i.subnet_id,
            "subnet_ids": i.subnet_ids}


async def _iface_request(request: Request, rule: str) -> tuple[Runtime, Caller, Obj, Obj]:
    c = await caller(request)
    data = await read_body(request)
    rt = runtime(request)
    router = writable(c, await find_router(rt, c, request.path_params["router_id"]), rule)
    return rt, c, router, data


async def add_interface(request: Request) -> Response:
    rt, c, router, data = await _iface_request(request, "add_router_interface")
    subnet_id, port_id = data.get("subnet_id"), data.get("port_id")
    if subnet_id and port_id:
        raise bad_request("Bad router request: Cannot specify both subnet-id and port-id")
    if not subnet_id and not port_id:
        raise bad_request("Bad router request: Either subnet_id or port_id must be specified")
    if port_id:
        iface = await core_ifaces.add_by_port(rt.objects, c.actor(), router, str(port_id))
    else:
        iface = await core_ifaces.add_by_subnet(rt.objects, c.actor(), router, str(subnet_id))
    return JSONResponse(_iface_view(iface))


async def remove_interface(request: Request) -> Response:
    rt, c, router, data = await _iface_request(request, "remove_router_interface")
    subnet_id, port_id = data.get("subnet_id"), data.get("port_id")
    if not subnet_id and not port_id:
        raise bad_request("Bad router request: Either subnet_id or port_id must be specified")
    iface = await core_ifaces.remove(rt.objects, router, subnet_id and str(subnet_id),
                                     port_id and str(port_id))
    return JSONResponse(_iface_view(iface))
