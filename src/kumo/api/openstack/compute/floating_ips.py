"""Nova's ``os-floating-ips`` read proxy (deprecated in Nova: 404 from microversion 2.36,
as Nova answers): the project's floating IPs as Nova shows them, read from the same
FloatingIP objects the Neutron face manages. Writes go through Neutron."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from kumo.model import network as nm

from ...runtime import runtime
from .common import caller, not_found, project_of
from .microversion import at_least

Obj = dict[str, Any]


def _view(fip: Obj, ports: dict[str, Obj], pools: dict[str, str]) -> Obj:
    spec = fip["spec"]
    port = ports.get(spec.get("portId") or "")
    owner = (port or {}).get("spec", {}).get("deviceOwner") or ""
    instance = port["spec"].get("deviceId") if port and owner.startswith(
        nm.COMPUTE_OWNER_PREFIX) else None
    return {"id": fip["metadata"]["name"], "ip": spec["floatingIpAddress"],
            "fixed_ip": spec.get("fixedIpAddress"), "instance_id": instance or None,
            "pool": pools.get(spec["floatingNetworkId"], spec["floatingNetworkId"])}


async def _views(request: Request) -> list[Obj]:
    ctx = await caller(request)
    if at_least(request, "2.36"):
        raise not_found("The resource could not be found.")
    objects = runtime(request).objects
    fips = (await objects.list(nm.FLOATING_IP, project_of(ctx))).items
    ports = {p["metadata"]["name"]: p for p in (await objects.list(nm.PORT, project_of(ctx))
                                                 ).items}
    nets = await objects.list(nm.NETWORK, None, label_selector=f"{nm.EXTERNAL_LABEL}=true")
    pools = {n["metadata"]["name"]: n["spec"].get("name") or n["metadata"]["name"]
             for n in nets.items}
    return [_view(f, ports, pools) for f in sorted(
        fips, key=lambda f: f["metadata"].get("creationTimestamp", ""))]


async def index(request: Request) -> Response:
    return JSONResponse({"floating_ips": await _views(request)})


async def show(request: Request) -> Response:
    fid = request.path_params["floating_ip_id"]
    for view in await _views(request):
        if view["id"] == fid:
            return JSONResponse({"floating_ip": view})
    raise not_found(f"Floating IP not found for ID {fid}")
