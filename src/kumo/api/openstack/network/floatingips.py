"""Floating IPs: /v2.0/floatingips. The face parses and renders; kumo.core.floatingips
claims the address, finds the router and (dis)associates."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo.core import floatingips as core_fips
from kumo.model import network as nm

from ...runtime import Runtime, runtime
from .common import (
    Caller,
    caller,
    check_project,
    create_request,
    delete_request,
    find_owned,
    list_owned,
    mutate,
    standard,
    to_ipv4,
    to_str,
    to_tags,
    update_request,
)
from .errors import bad_request, invalid
from .lists import listed, shown
from .networks import dns_domain
from .port_parse import dns_name

Obj = dict[str, Any]
_CREATE = {"floating_network_id", "subnet_id", "floating_ip_address", "port_id",
           "fixed_ip_address", "description", "tags", "project_id", "tenant_id", "dns_name",
           "dns_domain", "qos_policy_id"}
_UPDATE = {"port_id", "fixed_ip_address", "description"}
_READ_ONLY = ("id", "project_id", "tenant_id", "floating_ip_address", "floating_network_id",
              "router_id", "status")


def fip_view(fip: Obj) -> Obj:
    spec = fip["spec"]
    return {**standard(fip), "floating_ip_address": spec["floatingIpAddress"],
            "floating_network_id": spec["floatingNetworkId"],
            "router_id": spec.get("routerId"), "port_id": spec.get("portId"),
            "fixed_ip_address": spec.get("fixedIpAddress"),
            "status": (fip.get("status") or {}).get("status", "DOWN"),
            "dns_name": spec.get("dnsName") or "", "dns_domain": spec.get("dnsDomain") or ""}


def _opt_str(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise invalid(f"Invalid input for {name}. Reason: '{value}' is not a valid UUID.")
    return value


def _opt_ip(name: str, value: Any) -> str | None:
    return None if value is None else str(to_ipv4(name, value))


async def find_fip(rt: Runtime, c: Caller, fip_id: str) -> Obj:
    return await find_owned(rt, c, nm.FLOATING_IP, fip_id)


async def index(request: Request) -> Response:
    c = await caller(request)
    return listed(request, "floatingips", fip_view,
                  await list_owned(runtime(request), c, nm.FLOATING_IP))


async def show(request: Request) -> Response:
    c = await caller(request)
    fip = await find_fip(runtime(request), c, request.path_params["floatingip_id"])
    return shown(request, "floatingip", fip_view(fip))


async def create(request: Request) -> Response:
    c, data = await create_request(request, "floatingip", _CREATE)
    if not data.get("floating_network_id"):
        raise bad_request("Invalid input for floating_network_id. Reason: 'None' is not a "
                          "valid UUID.")
    req = core_fips.FipRequest(
        project=check_project(c, data), network_id=str(data["floating_network_id"]),
        subnet_id=_opt_str("subnet_id", data.get("subnet_id")),
        address=_opt_ip("floating_ip_address", data.get("floating_ip_address")),
        port_id=_opt_str("port_id", data.get("port_id")),
        fixed_ip=_opt_ip("fixed_ip_address", data.get("fixed_ip_address")),
        description=to_str("description", data.get("description", "")),
        tags=to_tags(data.get("tags", [])), dns_name=dns_name(data.get("dns_name")),
        dns_domain=dns_domain(data.get("dns_domain")))
    fip = await core_fips.create_fip(runtime(request).objects, c.actor(), req)
    return JSONResponse({"floatingip": fip_view(fip)}, status_code=201)


async def update(request: Request) -> Response:
    rt, c, fip, data = await update_request(request, "floatingip", find_fip, "floatingip_id",
                                            _UPDATE, _READ_ONLY)
    if "description" in data:
        desc = to_str("description", data["description"])
        fip = await mutate(rt, fip, lambda o: o["spec"].__setitem__("description", desc))
    if "port_id" in data:
        fip = await core_fips.associate(rt.objects, c.actor(), fip,
                                        _opt_str("port_id", data["port_id"]),
                                        _opt_ip("fixed_ip_address",
                                                data.get("fixed_ip_address")))
    return JSONResponse({"floatingip": fip_view(fip)})


async def delete(request: Request) -> Response:
    rt, _, fip = await delete_request(request, "floatingip", find_fip, "floatingip_id")
    await core_fips.delete_fip(rt.objects, fip)
    return Response(status_code=204)
