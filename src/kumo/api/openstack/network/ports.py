"""Ports: /v2.0/ports. The face parses (port_parse.py), the core decides and claims
(kumo.core.ports), the face renders; domain refusals become Neutron's errors
(errors.py). Coroutines for in-process callers (tests, tools):

    create_port(rt, ctx, body) -> Port object      as POST /v2.0/ports, for ``ctx``
    update_port(rt, ctx, port_id, body) -> Port    as PUT
    delete_port(rt, ctx, port_id)                  as DELETE (PortNotFound...)
    port_view(obj, ctx) -> dict                    the Neutron JSON
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo.core import ports as core_ports
from kumo.core.dns_neutron import assignment
from kumo.model import network as nm

from ...auth import AuthContext
from ...runtime import Runtime, runtime
from .common import Caller, body_of, caller, find_visible, standard
from .errors import policy
from .lists import by_creation, list_response, shown
from .port_parse import parse_create, parse_update

Obj = dict[str, Any]


# ---- views -------------------------------------------------------------------------
def port_view(obj: Obj, ctx: AuthContext | Caller) -> Obj:
    spec = obj["spec"]
    st = obj.get("status") or {}
    host = spec.get("bindingHostId") or ""
    out = {**standard(obj), "name": spec.get("name", ""), "network_id": spec["networkId"],
           "mac_address": spec["macAddress"], "admin_state_up": spec.get("adminStateUp", True),
           "status": st.get("status") or "DOWN", "device_id": spec.get("deviceId", ""),
           "device_owner": spec.get("deviceOwner", ""),
           "fixed_ips": [{"subnet_id": f["subnetId"], "ip_address": f["ipAddress"]}
                         for f in spec.get("fixedIps") or []],
           "allowed_address_pairs": [{"ip_address": p["ipAddress"],
                                      "mac_address": p.get("macAddress") or spec["macAddress"]}
                                     for p in spec.get("allowedAddressPairs") or []],
           "security_groups": list(spec.get("securityGroups") or []),
           "port_security_enabled": spec.get("portSecurityEnabled", True),
           "binding:vnic_type": "normal", "ip_allocation": "immediate",
           "dns_name": spec.get("dnsName") or "", "dns_assignment": assignment(spec)}
    if ctx.is_admin:
        out.update({"binding:host_id": host, "binding:profile": {},
                    "binding:vif_type": (st.get("vifType") or "bridge") if host else "unbound",
                    "binding:vif_details": {}})
    return out


# ---- lookups -----------------------------------------------------------------------
async def visible_ports(rt: Runtime, c: Caller) -> list[Obj]:
    """Own ports, plus others' ports on the caller's (shared) networks."""
    if c.is_admin:
        return (await rt.objects.list(nm.PORT, None)).items
    own = (await rt.objects.list(nm.PORT, c.project_id)).items
    seen = {p["metadata"]["name"] for p in own}
    shared = await rt.objects.list(nm.NETWORK, c.project_id,
                                   label_selector=f"{nm.SHARED_LABEL}=true")
    for net in shared.items:
        found = await rt.objects.list(nm.PORT, None, label_selector=(
            f"{nm.NETWORK_LABEL}={net['metadata']['name']}"))
        own += [p for p in found.items if p["metadata"]["name"] not in seen]
    return own


async def find_port(rt: Runtime, c: Caller, port_id: str) -> Obj:
    return await find_visible(rt, c, nm.PORT, port_id, visible_ports)


# ---- operations --------------------------------------------------------------------
async def _create(rt: Runtime, c: Caller, data: Obj) -> Obj:
    return await core_ports.create_port(rt.objects, c.actor(), parse_create(c, data))


async def _update(rt: Runtime, c: Caller, port_id: str, data: Obj) -> Obj:
    port = await find_port(rt, c, port_id)
    return await core_ports.update_port(rt.objects, c.actor(), port,
                                        parse_update(c, port, data))


async def _delete(rt: Runtime, c: Caller, port_id: str) -> None:
    port = await find_port(rt, c, port_id)
    if not c.can_write:
        raise policy("delete_port")
    await core_ports.delete_port(rt.objects, port)


async def create_port(rt: Runtime, ctx: AuthContext, body: Obj) -> Obj:
    """POST /v2.0/ports for ``ctx``: the stored Port object."""
    return await _create(rt, Caller.of(ctx), dict(body))


async def update_port(rt: Runtime, ctx: AuthContext, port_id: str, body: Obj) -> Obj:
    return await _update(rt, Caller.of(ctx), port_id, dict(body))


async def delete_port(rt: Runtime, ctx: AuthContext, port_id: str) -> None:
    await _delete(rt, Caller.of(ctx), port_id)


# ---- handlers ---------------------------------------------------------------------------
async def index(request: Request) -> Response:
    c = await caller(request)
    ports = await visible_ports(runtime(request), c)
    views = [port_view(p, c) for p in by_creation(ports)]
    return JSONResponse(list_response(request, "ports", views))


async def show(request: Request) -> Response:
    c = await caller(request)
    port = await find_port(runtime(request), c, request.path_params["port_id"])
    return shown(request, "port", port_view(port, c))


async def create(request: Request) -> Response:
    c = await caller(request)
    port = await _create(runtime(request), c, await body_of(request, "port"))
    return JSONResponse({"port": port_view(port, c)}, status_code=201)


async def update(request: Request) -> Response:
    c = await caller(request)
    data = await body_of(request, "port")
    port = await _update(runtime(request), c, request.path_params["port_id"], data)
    return JSONResponse({"port": port_view(port, c)})


async def delete(request: Request) -> Response:
    c = await caller(request)
    await _delete(runtime(request), c, request.path_params["port_id"])
    return Response(status_code=204)
